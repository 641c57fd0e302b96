package outbox

import (
	"encoding/json"
	"strconv"
	"sync"

	"github.com/carepath/carepath/internal/jsonappend"
	"github.com/carepath/carepath/triage"
)

// encodeDecisionData writes a decision.made event's data byte for byte as json.Marshal writes it,
// without its reflection and the validation of every time's MarshalJSON output, since every stored
// decision writes one; what the writer cannot write exactly goes to json.Marshal.
// The result is a buffer from eventBuffers: give it back with putEventBuffer once it is copied.
func encodeDecisionData(d *DecisionData) ([]byte, error) {
	scratch := eventBuffers.Get().(*[]byte)
	if b, ok := appendDecisionData((*scratch)[:0], d); ok {
		return b, nil
	}
	putEventBuffer((*scratch)[:0])
	return json.Marshal(d)
}

// eventBuffers holds the buffers event data is written into; appendTx copies the data into its
// statement's argument, after which the buffer goes back.
var eventBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// putEventBuffer gives a buffer from encodeDecisionData back, unless it grew unusually large.
func putEventBuffer(b []byte) {
	if cap(b) <= 64<<10 {
		eventBuffers.Put(&b)
	}
}

func appendDecisionData(b []byte, d *DecisionData) ([]byte, bool) {
	ok := true
	b = append(b, `{"decision_id":`...)
	b = jsonappend.String(b, d.Decision)
	b = append(b, `,"form":`...)
	b = jsonappend.String(b, d.Form)
	b = append(b, `,"form_version":`...)
	b = strconv.AppendInt(b, int64(d.FormVersion), 10)
	b = append(b, `,"subject_ref":`...)
	b = jsonappend.String(b, d.SubjectRef)
	if d.Team != "" {
		b = append(b, `,"team":`...)
		b = jsonappend.String(b, d.Team)
	}
	b = append(b, `,"pathway":`...)
	b = jsonappend.String(b, d.Pathway)
	b = append(b, `,"priority":`...)
	b = jsonappend.String(b, d.Priority)
	b = append(b, `,"respond_within":`...)
	b = jsonappend.String(b, d.RespondWithin)
	b = append(b, `,"flags":`...)
	b = jsonappend.Strings(b, d.Flags)
	b = append(b, `,"rule":`...)
	b = jsonappend.String(b, d.Rule)
	b = append(b, `,"ruleset":{"id":`...)
	b = jsonappend.String(b, d.RuleSet.ID)
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, int64(d.RuleSet.Version), 10)
	b = append(b, `,"sha256":`...)
	b = jsonappend.String(b, d.RuleSet.SHA256)
	b = append(b, `},"authored":`...)
	if b, ok = jsonappend.Time(b, d.Authored); !ok {
		return b, false
	}
	b = append(b, `,"decided":`...)
	if b, ok = jsonappend.Time(b, d.Decided); !ok {
		return b, false
	}
	b = append(b, `,"services":`...)
	if d.Services == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, s := range d.Services {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"service_id":`...)
			b = jsonappend.String(b, s.ID)
			b = append(b, `,"service_name":`...)
			b = jsonappend.String(b, s.Name)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = append(b, `,"assignment":`...)
	if b, ok = appendAssignment(b, d.Assignment); !ok {
		return b, false
	}
	if d.UnassignedReason != "" {
		b = append(b, `,"unassigned_reason":`...)
		b = jsonappend.String(b, d.UnassignedReason)
	}
	b = append(b, `,"manual_allocation":`...)
	b = strconv.AppendBool(b, d.ManualAllocation)
	return append(b, '}'), true
}

func appendAssignment(b []byte, a *triage.Assignment) ([]byte, bool) {
	if a == nil {
		return append(b, "null"...), true
	}
	ok := true
	b = append(b, `{"practitioner_id":`...)
	b = jsonappend.String(b, a.PractitionerID)
	if a.PractitionerName != "" {
		b = append(b, `,"practitioner_name":`...)
		b = jsonappend.String(b, a.PractitionerName)
	}
	b = append(b, `,"service_id":`...)
	b = jsonappend.String(b, a.ServiceID)
	b = append(b, `,"travel_minutes":`...)
	if b, ok = jsonappend.Float(b, a.TravelMinutes); !ok {
		return b, false
	}
	b = append(b, `,"appointment":{"id":`...)
	b = jsonappend.String(b, a.Appointment.ID)
	b = append(b, `,"start":`...)
	if b, ok = jsonappend.Time(b, a.Appointment.Start); !ok {
		return b, false
	}
	b = append(b, `,"end":`...)
	if b, ok = jsonappend.Time(b, a.Appointment.End); !ok {
		return b, false
	}
	b = append(b, `},"continuity":`...)
	b = strconv.AppendBool(b, a.Continuity)
	b = append(b, `,"why":`...)
	b = jsonappend.String(b, a.Why)
	return append(b, '}'), true
}
