package routing

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxOSRMResponse bounds how much of a table answer we read, so a misbehaving server cannot
// exhaust memory; a 1000×1000 table of durations is well under this.
const maxOSRMResponse = 64 << 20

// DefaultOSRMMaxTable is OSRM's own default --max-table-size: the most coordinates one table
// request may carry.
const DefaultOSRMMaxTable = 100

// OSRM asks an OSRM routing server's table service for driving durations, and its route service
// for road geometry.
type OSRM struct {
	// BaseURL is the server root, e.g. "http://127.0.0.1:5000"; the path /table/v1/driving is appended.
	BaseURL string
	// Client sends the requests; nil means a client with a 30 s timeout.
	Client *http.Client
	// MaxTable is the server's table-size limit: a matrix is asked for in blocks whose origins
	// and destinations together stay within it (zero means DefaultOSRMMaxTable). The route
	// service's requests carry at most this many coordinates too.
	MaxTable int
}

func (o OSRM) maxTable() int {
	if o.MaxTable >= 2 {
		return o.MaxTable
	}
	return DefaultOSRMMaxTable
}

func (o OSRM) client() *http.Client {
	if o.Client != nil {
		return o.Client
	}
	return &http.Client{Timeout: 30 * time.Second}
}

// Matrix implements Travel, in as many table requests as the server's size limit needs: origins
// in blocks of half the limit, destinations in blocks of the rest.
func (o OSRM) Matrix(ctx context.Context, from, to []Point) ([][]float64, error) {
	out := newMatrix(len(from), len(to))
	if len(from) == 0 || len(to) == 0 {
		return out, nil
	}
	rows := o.maxTable() / 2
	cols := o.maxTable() - rows
	for i := 0; i < len(from); i += rows {
		f := from[i:min(i+rows, len(from))]
		for j := 0; j < len(to); j += cols {
			t := to[j:min(j+cols, len(to))]
			block, err := o.table(ctx, f, t)
			if err != nil {
				return nil, err
			}
			for bi, row := range block {
				copy(out[i+bi][j:], row)
			}
		}
	}
	return out, nil
}

// table is one table request.
func (o OSRM) table(ctx context.Context, from, to []Point) ([][]float64, error) {
	u, err := o.tableURL(from, to)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("routing: unable to build OSRM table request: %w", err)
	}
	resp, err := o.client().Do(req)
	if err != nil {
		return nil, fmt.Errorf("routing: unable to query OSRM table: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxOSRMResponse))
	if err != nil {
		return nil, fmt.Errorf("routing: unable to read OSRM table answer: %w", err)
	}
	m, err := parseOSRMTable(body, from, to)
	if err != nil {
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("routing: OSRM table answered HTTP %d: %w", resp.StatusCode, err)
		}
		return nil, err
	}
	return m, nil
}

func (o OSRM) tableURL(from, to []Point) (string, error) {
	base := strings.TrimRight(o.BaseURL, "/")
	if base == "" {
		return "", fmt.Errorf("routing: unable to query OSRM table: BaseURL is empty")
	}
	var b strings.Builder
	b.WriteString(base)
	b.WriteString("/table/v1/driving/")
	writePoints := func(ps []Point, kind string, offset int) error {
		for i, p := range ps {
			if !p.Valid() {
				return fmt.Errorf("routing: unable to query OSRM table: %s %d has invalid coordinates %s", kind, i, p)
			}
			if i+offset > 0 {
				b.WriteByte(';')
			}
			b.WriteString(strconv.FormatFloat(p.Lon, 'f', 6, 64))
			b.WriteByte(',')
			b.WriteString(strconv.FormatFloat(p.Lat, 'f', 6, 64))
		}
		return nil
	}
	if err := writePoints(from, "origin", 0); err != nil {
		return "", err
	}
	if err := writePoints(to, "destination", len(from)); err != nil {
		return "", err
	}
	b.WriteString("?sources=")
	for i := range from {
		if i > 0 {
			b.WriteByte(';')
		}
		b.WriteString(strconv.Itoa(i))
	}
	b.WriteString("&destinations=")
	for j := range to {
		if j > 0 {
			b.WriteByte(';')
		}
		b.WriteString(strconv.Itoa(len(from) + j))
	}
	b.WriteString("&annotations=duration")
	return b.String(), nil
}

// osrmTable is the part of OSRM's table answer we use; durations are seconds, null when no route.
type osrmTable struct {
	Code      string       `json:"code"`
	Message   string       `json:"message"`
	Durations [][]*float64 `json:"durations"`
}

// parseOSRMTable turns a table answer into minutes, rejecting any answer that is not "Ok", has
// the wrong shape, or lacks a route, because a silently missing duration would look like 0 min.
func parseOSRMTable(body []byte, from, to []Point) ([][]float64, error) {
	var t osrmTable
	if err := json.Unmarshal(body, &t); err != nil {
		return nil, fmt.Errorf("routing: unable to decode OSRM table answer: %w", err)
	}
	if t.Code != "Ok" {
		msg := t.Message
		if msg == "" {
			msg = "no message"
		}
		return nil, fmt.Errorf("routing: OSRM table answered code %q: %s", t.Code, msg)
	}
	if len(t.Durations) != len(from) {
		return nil, fmt.Errorf("routing: OSRM table answer has %d duration rows, want %d", len(t.Durations), len(from))
	}
	m := newMatrix(len(from), len(to))
	for i, row := range t.Durations {
		if len(row) != len(to) {
			return nil, fmt.Errorf("routing: OSRM table answer row %d has %d durations, want %d", i, len(row), len(to))
		}
		for j, d := range row {
			if d == nil {
				return nil, fmt.Errorf("routing: OSRM found no route from origin %d (%s) to destination %d (%s)", i, from[i], j, to[j])
			}
			if *d < 0 {
				return nil, fmt.Errorf("routing: OSRM gave negative duration %g s from origin %d (%s) to destination %d (%s)", *d, i, from[i], j, to[j])
			}
			m[i][j] = *d / 60
		}
	}
	return m, nil
}
