package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
)

// TokenEnv names the environment variable holding the API token that --server sends. There is
// deliberately no flag for it, so that tokens stay out of shell history and process lists.
const TokenEnv = "CAREPATH_TOKEN"

// remoteTimeout bounds one call to the server; an approval's impact preview over months of
// stored decisions is the slowest.
const remoteTimeout = 5 * time.Minute

// maxRemoteAnswer bounds what is read of the server's answer.
const maxRemoteAnswer = 64 << 20

func serverFlag() cli.Flag {
	return &cli.StringFlag{Name: "server", EnvVars: []string{"CAREPATH_SERVER"},
		Usage: "act through the Carepath server at this URL, with the API token in " + TokenEnv + ", instead of opening the database"}
}

// remote calls a Carepath server's HTTP API on behalf of one command, as the holder of an API
// token.
type remote struct {
	io      IO
	command string
	base    *url.URL
	token   string
	client  *http.Client
	// print writes a successful answer; nil prints its JSON as it came.
	print func(answer []byte) error
}

// remote returns a client of the server named by --server, or nil when the command is to open
// the database itself.
func (c *commands) remote(ctx *cli.Context) (*remote, error) {
	raw := strings.TrimSpace(ctx.String("server"))
	if raw == "" {
		return nil, nil
	}
	name := commandPath(ctx)
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, cli.Exit(fmt.Sprintf("carepath %s: --server %q: want the http:// or https:// URL of a Carepath server, without credentials, query or fragment", name, raw), ExitInvalid)
	}
	// A bearer token sent over plain HTTP can be read by anyone on the path; only this machine's
	// own loopback is exempt.
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		return nil, cli.Exit(fmt.Sprintf("carepath %s: --server %q: plain http is allowed only to this machine; use https so the token is not sent in the clear", name, raw), ExitInvalid)
	}
	token := strings.TrimSpace(os.Getenv(TokenEnv))
	if token == "" {
		return nil, cli.Exit(fmt.Sprintf("carepath %s: --server needs an API token in the environment variable %s (there is no --token flag, so that tokens stay out of shell history); an admin makes one with carepath tokens create", name, TokenEnv), ExitForbidden)
	}
	return &remote{io: c.io, command: name, base: u, token: token, client: &http.Client{Timeout: remoteTimeout}}, nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// pathOf joins escaped path segments under the server's URL; "." and ".." are refused, since
// they would leave the route they are meant to name.
func (r *remote) pathOf(segments ...string) (*url.URL, error) {
	escaped := make([]string, len(segments))
	for i, s := range segments {
		if s == "" || s == "." || s == ".." {
			return nil, cli.Exit(fmt.Sprintf("carepath %s: %q is not an id", r.command, s), ExitInvalid)
		}
		escaped[i] = url.PathEscape(s)
	}
	return r.base.JoinPath(escaped...), nil
}

// request is one call to the server.
type request struct {
	method      string
	path        []string
	query       url.Values
	contentType string
	body        []byte
	header      map[string]string
}

// remoteProblem is the part of an RFC 9457 problem details body that is shown.
type remoteProblem struct {
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Errors []struct {
		Field  string `json:"field"`
		Reason string `json:"reason"`
	} `json:"errors"`
	// Gate is the review gate's report of a draft refused at submission.
	Gate json.RawMessage `json:"gate,omitempty"`
}

// call sends the request with the token and prints the server's JSON answer on standard output;
// a refusal is printed on standard error with the exit code the same refusal has locally.
func (r *remote) call(ctx context.Context, req request) error {
	u, err := r.pathOf(req.path...)
	if err != nil {
		return err
	}
	if len(req.query) > 0 {
		u.RawQuery = req.query.Encode()
	}
	hr, err := http.NewRequestWithContext(ctx, req.method, u.String(), bytes.NewReader(req.body))
	if err != nil {
		return fmt.Errorf("carepath %s: unable to make the request: %w", r.command, err)
	}
	hr.Header.Set("Authorization", "Bearer "+r.token)
	hr.Header.Set("Accept", "application/json, application/problem+json")
	if req.contentType != "" {
		hr.Header.Set("Content-Type", req.contentType)
	}
	for k, v := range req.header {
		if v != "" {
			hr.Header.Set(k, v)
		}
	}
	resp, err := r.client.Do(hr)
	if err != nil {
		return fmt.Errorf("carepath %s: unable to reach the server at %s: %w", r.command, r.base.Redacted(), err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxRemoteAnswer))
	if err != nil {
		return fmt.Errorf("carepath %s: unable to read the server's answer: %w", r.command, err)
	}
	if resp.StatusCode < 300 {
		if r.print != nil {
			return r.print(body)
		}
		return r.printJSON(body)
	}
	return r.refusal(resp, body)
}

func (r *remote) printJSON(body []byte) error {
	var out bytes.Buffer
	if err := json.Indent(&out, body, "", "  "); err != nil {
		out.Reset()
		out.Write(body)
	}
	if out.Len() > 0 && out.Bytes()[out.Len()-1] != '\n' {
		out.WriteByte('\n')
	}
	_, err := r.io.Stdout.Write(out.Bytes())
	return err
}

// refusal turns an answer of 300 or more into the exit code the same refusal has locally.
func (r *remote) refusal(resp *http.Response, body []byte) error {
	code := exitForStatus(resp.StatusCode)
	var msg strings.Builder
	fmt.Fprintf(&msg, "carepath %s: the server answered %s", r.command, resp.Status)
	var p remoteProblem
	isProblem := strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json")
	switch {
	case isProblem && json.Unmarshal(body, &p) == nil:
		if len(p.Gate) > 0 && string(p.Gate) != "null" {
			// A refused submit carries its gate report, which is shown as the local one is.
			_ = r.printJSON(p.Gate)
		}
		if p.Title != "" {
			fmt.Fprintf(&msg, ": %s", p.Title)
		}
		if p.Detail != "" {
			fmt.Fprintf(&msg, "\n%s", p.Detail)
		}
		for _, e := range p.Errors {
			fmt.Fprintf(&msg, "\n  %s: %s", e.Field, e.Reason)
		}
	default:
		// A refused submit answers with its gate report, which is shown as the local one is.
		var answer struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(body, &answer) == nil && answer.Error != "" {
			_ = r.printJSON(body)
			fmt.Fprintf(&msg, "\n%s", answer.Error)
		} else if len(bytes.TrimSpace(body)) > 0 {
			fmt.Fprintf(&msg, "\n%s", bytes.TrimSpace(body[:min(len(body), 2000)]))
		}
	}
	return cli.Exit(msg.String(), code)
}

// exitForStatus maps an HTTP status to the exit code of the same refusal made locally.
func exitForStatus(status int) int {
	switch status {
	case http.StatusUnauthorized, http.StatusForbidden:
		return ExitForbidden
	case http.StatusBadRequest, http.StatusNotFound, http.StatusConflict, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity:
		return ExitInvalid
	}
	return ExitFailure
}

// actionBody is the JSON body of a rule-set lifecycle action; fields left empty are left out.
type actionBody struct {
	Reason        string     `json:"reason,omitempty"`
	Comment       string     `json:"comment,omitempty"`
	EffectiveFrom *time.Time `json:"effective_from,omitempty"`
	ImpactDays    int        `json:"impact_days,omitempty"`
}

// ruleSetAction posts a lifecycle action on a stored version.
func (r *remote) ruleSetAction(ctx context.Context, id string, version int, action string, body actionBody) error {
	raw, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("carepath %s: unable to encode the request: %w", r.command, err)
	}
	return r.call(ctx, request{method: http.MethodPost, path: []string{"v1", "rulesets", id, "versions", fmt.Sprint(version), action},
		contentType: "application/json", body: raw})
}

// assessRemote submits an assessment to the server, which decides and stores it as the token's
// owner.
func (c *commands) assessRemote(ctx *cli.Context, r *remote, body []byte, format string, loc *time.Location) error {
	if ctx.Bool("dry-run") {
		return cli.Exit("carepath assess: --dry-run decides on the database directly; leave out --server", ExitInvalid)
	}
	q := url.Values{}
	if ctx.Bool("include-rejected") {
		q.Set("include_rejected", "true")
	}
	r.print = func(answer []byte) error { return c.printDecision(answer, format, false, loc) }
	return r.call(ctx.Context, request{method: http.MethodPost, path: []string{"v1", "assessments"}, query: q,
		contentType: "application/json", body: body, header: map[string]string{"Idempotency-Key": ctx.String("idempotency-key")}})
}
