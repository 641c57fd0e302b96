package server

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/carepath/carepath/directory"
	"github.com/carepath/carepath/triage"
)

// appendDecision appends d as writeJSON writes it, byte for byte, which
// TestDecisionJSONMatchesEncodingJSON and FuzzDecisionJSON hold it to. It reports false, having
// appended part of it, for what encoding/json refuses: a double that is not finite, a time
// MarshalJSON refuses, or an input that is not JSON.
func appendDecision(b []byte, d *triage.Decision) ([]byte, bool) {
	ok := true
	b = append(b, `{"id":`...)
	b = appendJSONString(b, d.ID, false)
	b = append(b, `,"form":`...)
	b = appendJSONString(b, d.Form, false)
	b = append(b, `,"form_version":`...)
	b = strconv.AppendInt(b, int64(d.FormVersion), 10)
	b = append(b, `,"subject_ref":`...)
	b = appendJSONString(b, d.SubjectRef, false)
	b = append(b, `,"scores":`...)
	b = appendScores(b, d.Scores, &ok)
	b = append(b, `,"ruleset":`...)
	b = appendRuleSetRef(b, d.RuleSet.ID, d.RuleSet.Version, d.RuleSet.SHA256)
	b = append(b, `,"outcome":{`...)
	b = appendOutcomeFields(b, d.Outcome)
	b = append(b, `},"rule":`...)
	b = appendJSONString(b, d.Rule, false)
	b = append(b, `,"explanation":`...)
	b = appendExplanation(b, &d.Explanation, &ok)
	b = append(b, `,"authored":`...)
	b = appendJSONTime(b, d.Authored, &ok)
	b = append(b, `,"decided":`...)
	b = appendJSONTime(b, d.Decided, &ok)
	b = append(b, `,"engine_version":`...)
	b = appendJSONString(b, d.EngineVersion, false)
	b = append(b, `,"input":`...)
	b = appendRawJSON(b, d.Input, &ok)
	b = append(b, `,"input_sha256":`...)
	b = appendJSONString(b, d.InputSHA256, false)
	if d.Team != "" {
		b = append(b, `,"team":`...)
		b = appendJSONString(b, d.Team, false)
	}
	if d.SubmittedBy != "" {
		b = append(b, `,"submitted_by":`...)
		b = appendJSONString(b, d.SubmittedBy, false)
	}
	b = append(b, `,"services":`...)
	if d.Services == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range d.Services {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendCandidate(b, &d.Services[i], &ok)
		}
		b = append(b, ']')
	}
	if len(d.RejectedServices) > 0 {
		b = append(b, `,"rejected_services":[`...)
		for i := range d.RejectedServices {
			r := &d.RejectedServices[i]
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"service_id":`...)
			b = appendJSONString(b, r.ServiceID, false)
			b = append(b, `,"service_name":`...)
			b = appendJSONString(b, r.ServiceName, false)
			b = append(b, `,"reason":`...)
			b = appendJSONString(b, string(r.Reason), false)
			b = append(b, `,"detail":`...)
			b = appendJSONString(b, r.Detail, false)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = append(b, `,"assignment":`...)
	if a := d.Assignment; a == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, `{"practitioner_id":`...)
		b = appendJSONString(b, a.PractitionerID, false)
		if a.PractitionerName != "" {
			b = append(b, `,"practitioner_name":`...)
			b = appendJSONString(b, a.PractitionerName, false)
		}
		b = append(b, `,"service_id":`...)
		b = appendJSONString(b, a.ServiceID, false)
		b = append(b, `,"travel_minutes":`...)
		b = appendJSONFloat(b, a.TravelMinutes, &ok)
		b = append(b, `,"appointment":{"id":`...)
		b = appendJSONString(b, a.Appointment.ID, false)
		b = append(b, `,"start":`...)
		b = appendJSONTime(b, a.Appointment.Start, &ok)
		b = append(b, `,"end":`...)
		b = appendJSONTime(b, a.Appointment.End, &ok)
		b = append(b, `},"continuity":`...)
		b = strconv.AppendBool(b, a.Continuity)
		b = append(b, `,"why":`...)
		b = appendJSONString(b, a.Why, false)
		b = append(b, '}')
	}
	if d.UnassignedReason != "" {
		b = append(b, `,"unassigned_reason":`...)
		b = appendJSONString(b, d.UnassignedReason, false)
	}
	b = append(b, `,"manual_allocation":`...)
	b = strconv.AppendBool(b, d.ManualAllocation)
	b = append(b, "}\n"...)
	return b, ok
}

func appendCandidate(b []byte, c *directory.Candidate, ok *bool) []byte {
	b = append(b, `{"service_id":`...)
	b = appendJSONString(b, c.ServiceID, false)
	b = append(b, `,"service_name":`...)
	b = appendJSONString(b, c.ServiceName, false)
	if c.OrganizationID != "" {
		b = append(b, `,"organization_id":`...)
		b = appendJSONString(b, c.OrganizationID, false)
	}
	if c.LocationID != "" {
		b = append(b, `,"location_id":`...)
		b = appendJSONString(b, c.LocationID, false)
	}
	if c.TravelMinutes != nil {
		b = append(b, `,"travel_minutes":`...)
		b = appendJSONFloat(b, *c.TravelMinutes, ok)
	}
	if c.Available != nil {
		b = append(b, `,"available":`...)
		b = appendJSONFloat(b, *c.Available, ok)
	}
	b = append(b, `,"opens_at":`...)
	b = appendJSONTime(b, c.OpensAt, ok)
	b = append(b, `,"reasons":`...)
	b = appendJSONStrings(b, c.Reasons)
	return append(b, '}')
}

// appendRawJSON writes a stored input as encoding/json writes a json.RawMessage: compacted, and
// null when absent; ok becomes false when it is not JSON.
func appendRawJSON(b []byte, raw json.RawMessage, ok *bool) []byte {
	if raw == nil {
		return append(b, "null"...)
	}
	out := bytes.NewBuffer(b)
	if err := json.Compact(out, raw); err != nil {
		*ok = false
		return b
	}
	return out.Bytes()
}
