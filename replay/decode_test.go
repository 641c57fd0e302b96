package replay

import (
	"os"
	"slices"
	"testing"
	"time"

	"github.com/carepath/carepath/fixtures"
	"github.com/carepath/carepath/triage"
)

func demoForm(t testing.TB, id string) *triage.Form {
	t.Helper()
	forms, err := fixtures.Forms()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range forms {
		if f.ID == id {
			return f
		}
	}
	t.Fatalf("no demo form %s", id)
	return nil
}

var received = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)

// checkDecoders holds the fast decoder to the full path: whatever it accepts, the full path accepts
// with the same rule inputs.
func checkDecoders(t *testing.T, x *formIndex, data []byte) bool {
	var fast caseInput
	if !decodeFast(x, data, received, &fast) {
		return false
	}
	sub, err := triage.ParseSubmission(data)
	if err != nil {
		t.Fatalf("fast path accepted what does not parse (%v): %s", err, data)
	}
	a, err := triage.Assess(x.form, sub, received)
	if err != nil {
		t.Fatalf("fast path accepted what does not validate (%v): %s", err, data)
	}
	in := a.Input()
	if !slices.Equal(fast.values, in.Answers) || !slices.Equal(fast.scores, in.Scores) || fast.age != in.Age || !fast.authored.Equal(a.Authored) {
		t.Fatalf("fast and full decoders differ on %s:\nfast %#v %#v %#v\nfull %#v %#v %#v", data, fast.values, fast.scores, fast.age, in.Answers, in.Scores, in.Age)
	}
	return true
}

func TestDecodeFastMatchesFullPath(t *testing.T) {
	x := newFormIndex(demoForm(t, "mental-health"))
	canonical := []byte(`{"answers":{"gad7_1":"1","gad7_2":"1","gad7_3":"1","gad7_4":"0","gad7_5":"0","gad7_6":"1","gad7_7":"1","phq9_1":"2","phq9_2":"1","phq9_3":"1","phq9_4":"2","phq9_5":"1","phq9_6":"1","phq9_7":"1","phq9_8":"1","phq9_9":"0","previous_high_intensity_treatment":false,"risk_intent":false,"risk_plan":false,"under_secondary_care":false},"authored":"2026-11-20T10:15:00Z","form":"mental-health","form_version":1,"subject":{"birth_date":"1988-04-12","location":{"lat":52.95,"lon":-1.15},"ref":"demo-0001"}}`)
	for _, tc := range []struct {
		name string
		data string
		fast bool
	}{
		{"canonical", string(canonical), true},
		{"escaped string goes the full way", string(canonical[:len(canonical)-12]) + `"demo\u0030001"}}`, false},
		{"missing answer", `{"answers":{"gad7_1":"1"},"form":"mental-health","subject":{"ref":"x"}}`, false},
		{"unknown field", `{"answers":{},"form":"mental-health","subject":{"ref":"x"},"extra":1}`, false},
		{"trailing data", string(canonical) + `{}`, false},
		{"birth after authored", string(canonical[:len(canonical)-60]) + `"birth_date":"2027-01-01","ref":"x"}}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := checkDecoders(t, x, []byte(tc.data)); got != tc.fast {
				t.Errorf("fast path took it: %v, want %v", got, tc.fast)
			}
		})
	}
}

func FuzzDecodeCanonical(f *testing.F) {
	for _, name := range []string{"../fixtures/examples/mental-health.json", "../fixtures/examples/discharge.json"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	mh := newFormIndex(demoForm(f, "mental-health"))
	dc := newFormIndex(demoForm(f, "discharge"))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecoders(t, mh, data)
		checkDecoders(t, dc, data)
	})
}
