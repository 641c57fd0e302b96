package triage

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/carepath/carepath/rules"
)

// canonicalReference is Canonical as it was first written, through maps and encoding/json: the
// definition the direct writer must match byte for byte.
func canonicalReference(f *Form, sub *Submission, values []rules.Value) ([]byte, error) {
	answers := make(map[string]any, len(values))
	for i, v := range values {
		it := &f.Items[i]
		switch {
		case v.Kind == rules.KindNone:
			continue
		case it.Type == TypeChoice:
			opt, ok := f.chosenOption(sub, i)
			if !ok {
				return nil, fmt.Errorf("answers.%s: no valid option", it.ID)
			}
			answers[it.ID] = it.Options[opt].Code
		default:
			answers[it.ID] = v.Any()
		}
	}
	subject := map[string]any{"ref": sub.Subject.Ref}
	if sub.Subject.BirthDate != "" {
		subject["birth_date"] = sub.Subject.BirthDate
	}
	if sub.Subject.Age != nil {
		subject["age"] = *sub.Subject.Age
	}
	if n := strings.TrimSpace(sub.Subject.Name); n != "" {
		subject["name"] = n
	}
	if a := strings.TrimSpace(sub.Subject.Address); a != "" {
		subject["address"] = a
	}
	if loc := sub.Subject.Location; loc != nil {
		subject["location"] = map[string]any{"lat": loc.Lat, "lon": loc.Lon}
	}
	if p := normalPostcode(sub.Subject.Postcode); p != "" {
		subject["postcode"] = p
	}
	doc := map[string]any{"form": f.ID, "form_version": f.Version, "subject": subject, "answers": answers}
	if sub.Authored != nil {
		doc["authored"] = sub.Authored.UTC().Format(time.RFC3339Nano)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func TestCanonicalMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	forms := []*Form{demoForm(t, "mental-health"), demoForm(t, "discharge"), testForm(t, "kitchen-sink")}
	awkward := []string{"plain", `quo"te`, `back\slash`, "tab\there", "<html>&", "caf\u00e9", "line\u2028sep", "bad\xffutf8", "del\x7f", "nul\x00"}
	for n := range 2000 {
		f := forms[n%len(forms)]
		sub := randomSubmission(rng, f)
		if n%3 == 0 {
			sub.Subject.Ref = awkward[rng.IntN(len(awkward))]
			sub.Subject.Postcode = awkward[rng.IntN(len(awkward))]
			sub.Subject.Name = awkward[rng.IntN(len(awkward))]
			sub.Subject.Address = " " + awkward[rng.IntN(len(awkward))] + "\n"
		}
		if n%5 == 0 && sub.Subject.Location != nil {
			sub.Subject.Location.Lat = []float64{0, 1e-7, -2.5e-9, 52.95, 1e21, -0.0}[rng.IntN(6)]
		}
		values, err := f.Validate(sub)
		if err != nil {
			continue // an awkward value made it invalid; Canonical is only for valid submissions
		}
		got, err := f.Canonical(sub, values)
		if err != nil {
			t.Fatal(err)
		}
		want, err := canonicalReference(f, sub, values)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("canonical differs from encoding/json:\n got %s\nwant %s", got, want)
		}
	}
}
