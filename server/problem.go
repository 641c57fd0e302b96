package server

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"

	"github.com/carepath/carepath/failure"
	"github.com/carepath/carepath/triage"
)

// Problem is an RFC 9457 problem details body.
type Problem struct {
	Type     string           `json:"type"`
	Title    string           `json:"title"`
	Status   int              `json:"status"`
	Detail   string           `json:"detail,omitempty"`
	Instance string           `json:"instance,omitempty"`
	Errors   []triage.Problem `json:"errors,omitempty"`
}

const problemBase = "https://carepath.org.uk/problems/"

// writeProblem maps an error to a status by its domain code and writes it as problem details.
func (s *Server) writeProblem(w http.ResponseWriter, r *http.Request, err error) {
	if isPage(r) {
		s.pageProblem(w, r, err)
		return
	}
	p := s.problemOf(w, r, err)
	if wantsFHIR(r) {
		s.writeOutcome(w, p, err)
		return
	}
	p.Type = problemBase + p.Type
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(p.Status)
	if err := json.NewEncoder(w).Encode(p); err != nil {
		s.Logger.Debug("unable to write problem", slog.Any("error", err))
	}
}

// problemOf maps an error to the problem details an API or a page reports, logging a 500, and
// sets WWW-Authenticate on w for a 401. Type is the short name, without problemBase.
func (s *Server) problemOf(w http.ResponseWriter, r *http.Request, err error) Problem {
	p := Problem{Instance: r.URL.Path}
	var ve *triage.ValidationError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		p.Status, p.Type, p.Title = http.StatusRequestEntityTooLarge, "too-large", "Request body too large"
		p.Detail = "the body is over the limit of " + itoa(mbe.Limit) + " bytes"
		p.Errors = []triage.Problem{{Field: "body", Reason: p.Detail}}
	// A body that stops short or times out is the client's doing. Only the error exactly as the
	// body reader returns it counts: the same error wrapped on its way up came from elsewhere,
	// such as the database, and stays a logged 500.
	case err == io.ErrUnexpectedEOF:
		p.Status, p.Type, p.Title = http.StatusBadRequest, "incomplete-body", "The request body ended early"
		p.Detail = "the connection closed before the whole body arrived"
	case isTimeout(err):
		p.Status, p.Type, p.Title = http.StatusRequestTimeout, "body-timeout", "The request body took too long"
		p.Detail = "the body did not arrive within the server's read timeout"
	case errors.As(err, &ve):
		p.Status, p.Type, p.Title = http.StatusUnprocessableEntity, "invalid-assessment", "The assessment is not valid"
		if len(ve.Problems) == 1 && ve.Problems[0].Field == "body" {
			p.Status, p.Type, p.Title = http.StatusBadRequest, "malformed-body", "The body is not valid JSON"
		}
		p.Detail = validationDetail(ve)
		p.Errors = ve.Problems
	default:
		switch failure.CodeOf(err) {
		case failure.Invalid:
			p.Status, p.Type, p.Title = http.StatusUnprocessableEntity, "invalid", "Invalid request"
		case failure.NotFound:
			p.Status, p.Type, p.Title = http.StatusNotFound, "not-found", "Not found"
		case failure.Conflict:
			p.Status, p.Type, p.Title = http.StatusConflict, "conflict", "Conflict"
		case failure.Unauthenticated:
			p.Status, p.Type, p.Title = http.StatusUnauthorized, "unauthenticated", "Sign-in required"
			w.Header().Set("WWW-Authenticate", `Bearer realm="carepath"`)
		case failure.Forbidden:
			p.Status, p.Type, p.Title = http.StatusForbidden, "forbidden", "Not allowed"
		case failure.Unavailable:
			p.Status, p.Type, p.Title = http.StatusUnprocessableEntity, "cannot-decide", "Cannot decide with the rules in force"
		default:
			p.Status, p.Type, p.Title = http.StatusInternalServerError, "internal", "Internal error"
		}
		p.Detail, p.Errors = personDetail(err), fieldProblems(err)
		if p.Status == http.StatusInternalServerError {
			s.Logger.Error("request failed", "method", r.Method, "path", r.URL.Path, "error", err)
			p.Detail = "the server could not complete the request; it has been logged"
		}
	}
	return p
}

// isTimeout reports whether err, as returned by a read and not wrapped, is a network timeout.
func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
