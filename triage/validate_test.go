package triage

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/carepath/carepath/rules"
)

func TestValidateProblems(t *testing.T) {
	type want struct{ field, reasonHas string }
	tests := []struct {
		name   string
		form   string
		mutate func(s *Submission)
		want   []want
	}{
		{"unknown item", "mental-health", func(s *Submission) { s.Answers["phq9_10"] = "1" },
			[]want{{"answers.phq9_10", "not an item"}}},
		{"unknown LOINC key", "mental-health", func(s *Submission) { s.Answers["/12345-6"] = "1" },
			[]want{{"answers./12345-6", "not an item"}}},
		{"same item by id and LOINC", "mental-health", func(s *Submission) { s.Answers["44250-9"] = "1" },
			[]want{{"answers.phq9_1", "more than once"}}},
		{"same item by LOINC with and without slash", "mental-health", func(s *Submission) {
			delete(s.Answers, "phq9_2")
			s.Answers["44255-8"] = "1"
			s.Answers["/44255-8"] = "1"
		}, []want{{"answers.phq9_2", "more than once"}}},
		{"missing required", "mental-health", func(s *Submission) { delete(s.Answers, "gad7_3") },
			[]want{{"answers.gad7_3", "required"}}},
		{"null is no answer", "mental-health", func(s *Submission) { s.Answers["gad7_3"] = nil },
			[]want{{"answers.gad7_3", "required"}}},
		{"boolean given as text", "mental-health", func(s *Submission) { s.Answers["risk_plan"] = "yes" },
			[]want{{"answers.risk_plan", "true or false"}}},
		{"unknown choice code", "mental-health", func(s *Submission) { s.Answers["phq9_2"] = "4" },
			[]want{{"answers.phq9_2", `"4" is not one of the option codes 0, 1, 2, 3`}}},
		{"unknown coding", "mental-health", func(s *Submission) { s.Answers["phq9_2"] = Coding{System: loincSystem, Code: "LA9999-9"} },
			[]want{{"answers.phq9_2", `coding "LA9999-9"`}}},
		{"score matching no option", "mental-health", func(s *Submission) { s.Answers["phq9_2"] = int64(7) },
			[]want{{"answers.phq9_2", "score of exactly one option"}}},
		{"choice given as boolean", "mental-health", func(s *Submission) { s.Answers["phq9_2"] = true },
			[]want{{"answers.phq9_2", "got true"}}},
		{"integer above max", "discharge", func(s *Submission) { s.Answers["cfs"] = int64(10) },
			[]want{{"answers.cfs", "between 1 and 9"}}},
		{"integer below min", "discharge", func(s *Submission) { s.Answers["barthel_stairs"] = int64(-1) },
			[]want{{"answers.barthel_stairs", "between 0 and 2"}}},
		{"integer given a fraction", "discharge", func(s *Submission) { s.Answers["barthel_transfer"] = 2.5 },
			[]want{{"answers.barthel_transfer", "whole number, got 2.5"}}},
		{"integer given text", "discharge", func(s *Submission) { s.Answers["cfs"] = "5" },
			[]want{{"answers.cfs", `whole number, got "5"`}}},
		{"missing subject ref", "mental-health", func(s *Submission) { s.Subject.Ref = " " },
			[]want{{"subject.ref", "required"}}},
		{"bad birth date", "mental-health", func(s *Submission) { s.Subject.BirthDate = "1990-02-30" },
			[]want{{"subject.birth_date", "YYYY-MM-DD"}}},
		{"birth date after authored", "mental-health", func(s *Submission) { s.Subject.BirthDate = "2025-03-15" },
			[]want{{"subject.birth_date", "after the assessment"}}},
		{"negative age", "mental-health", func(s *Submission) { n := -1; s.Subject.Age = &n },
			[]want{{"subject.age", "between 0 and 150"}}},
		{"latitude and longitude out of range", "mental-health", func(s *Submission) { s.Subject.Location = &Location{Lat: 91, Lon: -180.5} },
			[]want{{"subject.location.lat", "-90 and 90"}, {"subject.location.lon", "-180 and 180"}}},
		{"wrong form", "mental-health", func(s *Submission) { s.Form = "discharge" },
			[]want{{"form", `must be "mental-health"`}}},
		{"wrong version", "mental-health", func(s *Submission) { s.FormVersion = 2 },
			[]want{{"form_version", "must be 1 or omitted, got 2"}}},
		{"several at once, sorted by field", "mental-health", func(s *Submission) {
			s.Subject.Ref = ""
			delete(s.Answers, "phq9_9")
			s.Answers["phq9_1"] = "9"
			s.Answers["zzz"] = int64(1)
			s.Answers["risk_intent"] = int64(1)
			s.Subject.Location = &Location{Lat: 0, Lon: 200}
		}, []want{
			{"answers.phq9_1", "not one of the option codes"},
			{"answers.phq9_9", "required"},
			{"answers.risk_intent", "true or false"},
			{"answers.zzz", "not an item"},
			{"subject.location.lon", "-180 and 180"},
			{"subject.ref", "required"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := demoForm(t, tt.form)
			sub := validSubmission(tt.form)
			if _, err := f.Validate(sub); err != nil {
				t.Fatalf("base submission is invalid: %v", err)
			}
			tt.mutate(sub)
			values, err := f.Validate(sub)
			if values != nil {
				t.Errorf("values = %v, want nil with an error", values)
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("error %v is not a *ValidationError", err)
			}
			if len(ve.Problems) != len(tt.want) {
				t.Fatalf("problems = %+v, want %d", ve.Problems, len(tt.want))
			}
			for i, w := range tt.want {
				p := ve.Problems[i]
				if p.Field != w.field || !strings.Contains(p.Reason, w.reasonHas) {
					t.Errorf("problem %d = %+v, want field %s with reason containing %q", i, p, w.field, w.reasonHas)
				}
				if !strings.Contains(err.Error(), "\n"+p.Field+": "+p.Reason) {
					t.Errorf("Error() does not list %+v on its own line:\n%s", p, err)
				}
			}
		})
	}
}

// validSubmission gives a complete, valid native submission for a demo form.
func validSubmission(form string) *Submission {
	if form == "mental-health" {
		return mentalHealth([]int{1, 2, 0, 3, 1, 0, 2, 1, 0}, []int{2, 2, 1, 0, 0, 1, 3})
	}
	authored := time.Date(2025, 3, 14, 9, 30, 0, 0, time.UTC)
	return &Submission{Form: "discharge", Subject: Subject{Ref: "p1", BirthDate: "1941-11-02"}, Authored: &authored, Answers: map[string]any{
		"barthel_bowels": int64(2), "barthel_bladder": int64(1), "barthel_grooming": int64(1), "barthel_toilet": int64(1),
		"barthel_feeding": int64(2), "barthel_transfer": int64(2), "barthel_mobility": int64(2), "barthel_dressing": int64(1),
		"barthel_stairs": int64(0), "barthel_bathing": int64(0), "cfs": int64(6), "lives_alone": true, "has_carer": false,
		"existing_care_package": false, "new_care_needs": true, "requires_24h_care": false, "medically_optimised": true,
	}}
}

func TestValidateAcceptedForms(t *testing.T) {
	mh := demoForm(t, "mental-health")
	ks := testForm(t, "kitchen-sink")
	tests := []struct {
		name string
		form *Form
		item string
		raw  any
		want rules.Value
	}{
		{"choice by code", mh, "phq9_3", "2", rules.Int(2)},
		{"choice by score", mh, "phq9_3", int64(2), rules.Int(2)},
		{"choice by integral float score", mh, "phq9_3", 2.0, rules.Int(2)},
		{"choice by LOINC coding", mh, "phq9_3", Coding{System: loincSystem, Code: "LA6570-1"}, rules.Int(2)},
		{"choice by option coding", mh, "phq9_3", Coding{Code: "3"}, rules.Int(3)},
		{"integer from integral float", ks, "visits", 4.0, rules.Int(4)},
		{"decimal from integer", ks, "weight_kg", int64(70), rules.Double(70)},
		{"decimal", ks, "weight_kg", 70.25, rules.Double(70.25)},
		{"unbounded above", ks, "falls", int64(1000), rules.Int(1000)},
		{"unscored choice is its code", ks, "housing", "rent", rules.String("rent")},
		{"unscored choice by coding", ks, "housing", Coding{Code: "none"}, rules.String("none")},
		{"shared score by code", ks, "pain", "na", rules.Int(0)},
		{"date", ks, "seen_on", "2024-02-29", rules.String("2024-02-29")},
		{"string", ks, "note", "lives with daughter", rules.String("lives with daughter")},
		{"boolean", ks, "smoker", false, rules.Bool(false)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sub := &Submission{Form: tt.form.ID, Subject: Subject{Ref: "p"}, Answers: map[string]any{"visits": int64(1), "housing": "own"}}
			if tt.form == mh {
				sub = validSubmission("mental-health")
			}
			sub.Answers[tt.item] = tt.raw
			values, err := tt.form.Validate(sub)
			if err != nil {
				t.Fatal(err)
			}
			i, _ := tt.form.ItemIndex(tt.item)
			if values[i] != tt.want {
				t.Errorf("value = %#v, want %#v", values[i], tt.want)
			}
		})
	}
}

func TestValidateRejectsKitchenSink(t *testing.T) {
	ks := testForm(t, "kitchen-sink")
	tests := []struct {
		name, item string
		raw        any
		reasonHas  string
	}{
		{"decimal below min", "weight_kg", 0.25, "between 0.5 and 400"},
		{"decimal as text", "weight_kg", "70", "must be a number"},
		{"bad date", "seen_on", "2023-02-29", "YYYY-MM-DD"},
		{"date as number", "seen_on", int64(20240101), "YYYY-MM-DD"},
		{"string as number", "note", int64(1), "must be text"},
		{"ambiguous shared score", "pain", int64(0), "exactly one option"},
		{"score for unscored choice", "housing", int64(1), "got a number"},
		{"below min with no max", "falls", int64(-1), "between 0 and ∞"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sub := &Submission{Form: ks.ID, Subject: Subject{Ref: "p"}, Answers: map[string]any{"visits": int64(1), "housing": "own"}}
			sub.Answers[tt.item] = tt.raw
			_, err := ks.Validate(sub)
			var ve *ValidationError
			if !errors.As(err, &ve) || len(ve.Problems) != 1 {
				t.Fatalf("err = %v, want one problem", err)
			}
			if p := ve.Problems[0]; p.Field != "answers."+tt.item || !strings.Contains(p.Reason, tt.reasonHas) {
				t.Errorf("problem = %+v, want answers.%s containing %q", p, tt.item, tt.reasonHas)
			}
		})
	}
}

func TestValidateOptionalItemsAreNone(t *testing.T) {
	ks := testForm(t, "kitchen-sink")
	sub := &Submission{Form: ks.ID, FormVersion: 3, Subject: Subject{Ref: "p"}, Answers: map[string]any{"visits": int64(1), "housing": "own"}}
	values, err := ks.Validate(sub)
	if err != nil {
		t.Fatal(err)
	}
	var answered []string
	for i, v := range values {
		if v.Kind != rules.KindNone {
			answered = append(answered, ks.Items[i].ID)
		}
	}
	if !slices.Equal(answered, []string{"visits", "housing"}) {
		t.Errorf("answered = %v", answered)
	}
}

// TestValidateDeterministic repeats a many-problem validation: map order must not change the report.
func TestValidateDeterministic(t *testing.T) {
	f := demoForm(t, "mental-health")
	sub := validSubmission("mental-health")
	sub.Answers["44250-9"] = "7"
	sub.Answers["/44250-9"] = Coding{Code: "bad"}
	sub.Answers["x"] = 1.5
	sub.Answers["y"] = true
	var first string
	for i := range 50 {
		_, err := f.Validate(sub)
		if i == 0 {
			first = err.Error()
		} else if err.Error() != first {
			t.Fatalf("run %d reported\n%s\nfirst run reported\n%s", i, err, first)
		}
	}
}

func BenchmarkValidateAndScore(b *testing.B) {
	f := demoForm(b, "mental-health")
	data, err := os.ReadFile("testdata/native/mental-health.json")
	if err != nil {
		b.Fatal(err)
	}
	sub, err := ParseSubmission(data)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		values, err := f.Validate(sub)
		if err != nil {
			b.Fatal(err)
		}
		if s := f.Score(values); s[0].Kind != rules.KindInt {
			b.Fatal("no total")
		}
	}
}
