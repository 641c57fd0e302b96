package server

import (
	"encoding/json"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/carepath/carepath/triage"
)

// fhirMediaType is the media type of FHIR resources in JSON.
const fhirMediaType = "application/fhir+json"

// operationOutcome is a FHIR R4 OperationOutcome, the form an error takes for a FHIR client.
type operationOutcome struct {
	ResourceType string         `json:"resourceType"`
	Issue        []outcomeIssue `json:"issue"`
}

// outcomeIssue is one issue of an OperationOutcome; code is from FHIR's IssueType value set and
// expression is FHIRPath into the resource that was sent.
type outcomeIssue struct {
	Severity    string   `json:"severity"`
	Code        string   `json:"code"`
	Diagnostics string   `json:"diagnostics,omitempty"`
	Expression  []string `json:"expression,omitempty"`
}

// wantsFHIR reports whether an error answering r must be an OperationOutcome rather than problem
// details: r is for a FHIR endpoint and the client asked for FHIR, by its Accept header or, when
// that does not choose, by sending a FHIR resource as application/fhir+json.
func wantsFHIR(r *http.Request) bool {
	if !isFHIREndpoint(r.URL.Path) {
		return false
	}
	if fhir, ok := acceptChooses(r.Header.Values("Accept")); ok {
		return fhir
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && isFHIRMediaType(mt)
}

// isFHIREndpoint reports whether path takes or gives FHIR resources: POST /v1/assessments takes
// QuestionnaireResponses, GET /v1/forms/{id}/questionnaire gives a Questionnaire.
func isFHIREndpoint(path string) bool {
	if path == "/v1/assessments" {
		return true
	}
	id, ok := strings.CutPrefix(path, "/v1/forms/")
	if !ok {
		return false
	}
	id, ok = strings.CutSuffix(id, "/questionnaire")
	return ok && id != "" && !strings.Contains(id, "/")
}

// isFHIRMediaType accepts FHIR's JSON media type and the older form some clients still send.
func isFHIRMediaType(mt string) bool {
	return mt == fhirMediaType || mt == "application/json+fhir"
}

// acceptChooses reads Accept headers: ok is false unless they name FHIR JSON or problem details,
// and fhir is whether FHIR JSON is preferred, at a quality at least that of problem details.
func acceptChooses(values []string) (fhir, ok bool) {
	fhirQ, problemQ := -1.0, -1.0
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil {
				continue
			}
			q := 1.0
			if s, has := params["q"]; has {
				if q, err = strconv.ParseFloat(s, 64); err != nil {
					continue
				}
			}
			switch {
			case isFHIRMediaType(mt):
				fhirQ = max(fhirQ, q)
			case mt == "application/problem+json":
				problemQ = max(problemQ, q)
			}
		}
	}
	switch {
	case fhirQ > 0 && fhirQ >= problemQ:
		return true, true
	case problemQ > 0:
		return false, true
	}
	return false, false
}

// writeOutcome writes as an OperationOutcome the error that p describes, with p's status: one issue
// for each problem of a refused submission, located in the resource sent, or one for anything else.
func (s *Server) writeOutcome(w http.ResponseWriter, p Problem, err error) {
	out := operationOutcome{ResourceType: "OperationOutcome"}
	var ve *triage.ValidationError
	if errors.As(err, &ve) && len(ve.Problems) > 0 {
		for _, prob := range ve.Problems {
			issue := outcomeIssue{Severity: "error", Code: prob.FHIRIssueType(), Diagnostics: prob.Field + ": " + prob.Reason}
			if e := prob.FHIRExpression(); e != "" {
				issue.Expression = []string{e}
			}
			out.Issue = append(out.Issue, issue)
		}
	} else {
		diagnostics := p.Detail
		if diagnostics == "" {
			diagnostics = p.Title
		}
		out.Issue = []outcomeIssue{{Severity: "error", Code: statusIssueType(p), Diagnostics: diagnostics}}
	}
	w.Header().Set("Content-Type", fhirMediaType)
	w.WriteHeader(p.Status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		s.Logger.Debug("unable to write operation outcome", slog.Any("error", err))
	}
}

// statusIssueType is the FHIR IssueType that fits an error known only by its problem details.
func statusIssueType(p Problem) string {
	switch {
	case strings.HasSuffix(p.Type, "cannot-decide"):
		return "processing"
	case p.Status == http.StatusBadRequest:
		return "structure"
	case p.Status == http.StatusUnauthorized:
		return "login"
	case p.Status == http.StatusForbidden:
		return "forbidden"
	case p.Status == http.StatusNotFound:
		return "not-found"
	case p.Status == http.StatusMethodNotAllowed, p.Status == http.StatusNotAcceptable, p.Status == http.StatusUnsupportedMediaType:
		return "not-supported"
	case p.Status == http.StatusRequestTimeout:
		return "timeout"
	case p.Status == http.StatusConflict:
		return "conflict"
	case p.Status == http.StatusRequestEntityTooLarge:
		return "too-long"
	case p.Status == http.StatusTooManyRequests:
		return "throttled"
	case p.Status == http.StatusServiceUnavailable:
		return "transient"
	case p.Status >= 500:
		return "exception"
	}
	return "invalid"
}
