package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"
)

// requestSender sends the requests of one load-test connection, one at a time.
type requestSender interface {
	// send POSTs body and returns the status of the answer once its last byte has been read.
	send(ctx context.Context, body []byte) (status int, err error)
	close()
}

// newSender returns the sender of one connection: for http:// targets a lean HTTP/1.1 client over
// one net.Conn, so the generator takes little of the CPU it shares with the server it measures; for
// https:// targets net/http, so a deployment behind TLS can be measured too.
func (lt *loadtest) newSender() requestSender {
	if lt.target.Scheme == "https" {
		return &stdSender{client: lt.client, url: lt.target.String(), token: lt.token}
	}
	return newRawConn(lt.dialTarget, lt.requestHead())
}

// dialTarget opens a TCP connection to the target through the dialer that refuses any address
// other than loopback (unless --allow-remote).
func (lt *loadtest) dialTarget(ctx context.Context) (net.Conn, error) {
	port := lt.target.Port()
	if port == "" {
		port = "80"
	}
	return lt.dialer.DialContext(ctx, "tcp", net.JoinHostPort(lt.target.Hostname(), port))
}

// requestHead is the request head every request of the run shares, up to and including
// "Content-Length: ", whose value depends on the body.
func (lt *loadtest) requestHead() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: carepath-loadtest\r\nContent-Type: application/json\r\nAccept: application/json\r\n",
		lt.target.RequestURI(), lt.target.Host)
	if lt.token != "" {
		fmt.Fprintf(&b, "Authorization: Bearer %s\r\n", lt.token)
	}
	b.WriteString("Content-Length: ")
	return b.Bytes()
}

// stdSender sends through net/http, for https:// targets.
type stdSender struct {
	client *http.Client
	url    string
	token  string
}

func (s *stdSender) send(ctx context.Context, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if s.token != "" {
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, err
	}
	// Read to the end so the connection goes back to the pool.
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, err
}

func (s *stdSender) close() {}

// rawConnBuffer is the size of each connection's read and write buffers; a response header line
// longer than it is an error.
const rawConnBuffer = 16 << 10

// rawConn is one keep-alive HTTP/1.1 connection: it writes a request head built once and the body,
// reads the status and the headers it needs, and discards the body without allocating. After an
// error or a response that closes the connection, the next request dials again.
type rawConn struct {
	dial    func(context.Context) (net.Conn, error)
	head    []byte // the shared head, then the Content-Length of the last body and the blank line
	prefix  int    // the length of the shared head
	bodyLen int    // the body length head ends with, -1 before the first request
	conn    net.Conn
	stop    func() bool // stops the hook that interrupts conn when the run's context ends
	br      *bufio.Reader
	bw      *bufio.Writer
}

func newRawConn(dial func(context.Context) (net.Conn, error), head []byte) *rawConn {
	return &rawConn{
		dial:    dial,
		head:    head,
		prefix:  len(head),
		bodyLen: -1,
		br:      bufio.NewReaderSize(nil, rawConnBuffer),
		bw:      bufio.NewWriterSize(nil, rawConnBuffer),
	}
}

func (c *rawConn) send(ctx context.Context, body []byte) (int, error) {
	if c.conn == nil {
		conn, err := c.dial(ctx)
		if err != nil {
			return 0, err
		}
		c.conn = conn
		// Blocked reads and writes end when the run does, as net/http's would.
		c.stop = context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
		c.br.Reset(conn)
		c.bw.Reset(conn)
	}
	status, err := c.exchange(body)
	if err != nil {
		c.close()
	}
	return status, err
}

func (c *rawConn) exchange(body []byte) (int, error) {
	if err := c.conn.SetDeadline(time.Now().Add(loadtestTimeout)); err != nil {
		return 0, err
	}
	if len(body) != c.bodyLen {
		c.head = strconv.AppendInt(c.head[:c.prefix], int64(len(body)), 10)
		c.head = append(c.head, "\r\n\r\n"...)
		c.bodyLen = len(body)
	}
	c.bw.Write(c.head)
	c.bw.Write(body)
	if err := c.bw.Flush(); err != nil {
		return 0, err
	}
	h, err := readResponseHead(c.br)
	if err != nil {
		return 0, err
	}
	closes, err := discardBody(c.br, h)
	if err != nil {
		return 0, err
	}
	if closes {
		c.close()
	}
	return h.status, nil
}

func (c *rawConn) close() {
	if c.conn == nil {
		return
	}
	c.stop()
	c.conn.Close()
	c.conn = nil
	c.br.Reset(nil)
	c.bw.Reset(nil)
}

// responseHead is what the generator needs of a response's status line and headers.
type responseHead struct {
	status        int
	contentLength int64 // -1 when the response gives none
	chunked       bool
	close         bool // the server closes the connection after this response
}

// maxResponseHeaders bounds the header lines of one response, so a broken server cannot keep the
// generator reading.
const maxResponseHeaders = 256

var (
	errMalformedStatus = errors.New("malformed HTTP status line")
	errMalformedHeader = errors.New("malformed HTTP response header")
	errHeaderTooLong   = errors.New("HTTP response header line too long")
	errTooManyHeaders  = errors.New("too many HTTP response headers")
	errContentLength   = errors.New("bad Content-Length in HTTP response")
	errChunk           = errors.New("malformed chunk in HTTP response")
	errSwitching       = errors.New("unexpected 101 Switching Protocols")
)

// readResponseHead reads a response's status line and headers, skipping interim (1xx) responses.
func readResponseHead(br *bufio.Reader) (responseHead, error) {
	for {
		h, err := readOneHead(br)
		if err != nil {
			return h, err
		}
		if h.status == http.StatusSwitchingProtocols {
			return h, errSwitching
		}
		if h.status >= 200 {
			return h, nil
		}
	}
}

func readLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, errHeaderTooLong
		}
		if errors.Is(err, io.EOF) {
			return nil, io.ErrUnexpectedEOF
		}
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

func readOneHead(br *bufio.Reader) (responseHead, error) {
	h := responseHead{contentLength: -1}
	line, err := br.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, io.EOF) && len(line) == 0 {
			return h, io.EOF // the server closed the connection before answering
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			return h, errHeaderTooLong
		}
		if errors.Is(err, io.EOF) {
			return h, io.ErrUnexpectedEOF
		}
		return h, err
	}
	line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
	// HTTP/1.x SP 3DIGIT [SP reason]
	if len(line) < 12 || string(line[:7]) != "HTTP/1." || line[7] < '0' || line[7] > '9' || line[8] != ' ' ||
		(len(line) > 12 && line[12] != ' ') {
		return h, errMalformedStatus
	}
	for _, d := range line[9:12] {
		if d < '0' || d > '9' {
			return h, errMalformedStatus
		}
		h.status = h.status*10 + int(d-'0')
	}
	if h.status < 100 {
		return h, errMalformedStatus
	}
	http10 := line[7] == '0'
	keepAlive := false
	for n := 0; ; n++ {
		if n > maxResponseHeaders {
			return h, errTooManyHeaders
		}
		line, err := readLine(br)
		if err != nil {
			return h, err
		}
		if len(line) == 0 {
			break
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 || line[0] == ' ' || line[0] == '\t' || bytes.ContainsAny(line[:colon], " \t") {
			return h, errMalformedHeader
		}
		name, value := line[:colon], bytes.Trim(line[colon+1:], " \t")
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			n, ok := parseContentLength(value)
			if !ok || (h.contentLength >= 0 && h.contentLength != n) {
				return h, errContentLength
			}
			h.contentLength = n
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			// Only the last coding matters here: chunked framing, or the body lasts until close.
			last := value
			if i := bytes.LastIndexByte(value, ','); i >= 0 {
				last = bytes.Trim(value[i+1:], " \t")
			}
			if bytes.EqualFold(last, []byte("chunked")) {
				h.chunked = true
			} else {
				h.chunked = false
				h.close = true
			}
		case bytes.EqualFold(name, []byte("Connection")):
			for tok := range bytes.SplitSeq(value, []byte(",")) {
				tok = bytes.Trim(tok, " \t")
				if bytes.EqualFold(tok, []byte("close")) {
					h.close = true
				} else if bytes.EqualFold(tok, []byte("keep-alive")) {
					keepAlive = true
				}
			}
		}
	}
	if http10 && !keepAlive {
		h.close = true
	}
	return h, nil
}

// parseContentLength parses a Content-Length value: decimal digits only, as RFC 9110 requires.
func parseContentLength(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 18 {
		return 0, false
	}
	var n int64
	for _, d := range v {
		if d < '0' || d > '9' {
			return 0, false
		}
		n = n*10 + int64(d-'0')
	}
	return n, true
}

// discardBody reads and drops the body of the response h heads; it reports whether the connection
// is finished with, because the server said so or because the body lasted until it closed.
func discardBody(br *bufio.Reader, h responseHead) (closes bool, err error) {
	switch {
	case h.status < 200 || h.status == http.StatusNoContent || h.status == http.StatusNotModified:
		return h.close, nil
	case h.chunked:
		return h.close, discardChunked(br)
	case h.contentLength >= 0:
		if _, err := br.Discard(int(h.contentLength)); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return true, err
		}
		return h.close, nil
	default:
		for {
			if _, err := br.Discard(rawConnBuffer); err != nil {
				if errors.Is(err, io.EOF) {
					return true, nil
				}
				return true, err
			}
		}
	}
}

// maxChunkSize bounds one chunk, so the size cannot overflow.
const maxChunkSize = 1 << 40

func discardChunked(br *bufio.Reader) error {
	for {
		line, err := readLine(br)
		if err != nil {
			return err
		}
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i] // a chunk extension
		}
		line = bytes.Trim(line, " \t")
		if len(line) == 0 {
			return errChunk
		}
		var size int64
		for _, d := range line {
			switch {
			case d >= '0' && d <= '9':
				size = size<<4 | int64(d-'0')
			case d >= 'a' && d <= 'f':
				size = size<<4 | int64(d-'a'+10)
			case d >= 'A' && d <= 'F':
				size = size<<4 | int64(d-'A'+10)
			default:
				return errChunk
			}
			if size > maxChunkSize {
				return errChunk
			}
		}
		if size == 0 {
			// Trailers, then the blank line that ends the message.
			for n := 0; ; n++ {
				if n > maxResponseHeaders {
					return errTooManyHeaders
				}
				line, err := readLine(br)
				if err != nil {
					return err
				}
				if len(line) == 0 {
					return nil
				}
			}
		}
		if _, err := br.Discard(int(size)); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		line, err = readLine(br)
		if err != nil {
			return err
		}
		if len(line) != 0 {
			return errChunk
		}
	}
}
