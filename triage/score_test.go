package triage

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/carepath/carepath/rules"
)

// spreadTotal splits total over n items scoring 0..maxEach, front-loaded, so any total in range is reachable.
func spreadTotal(total, n, maxEach int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = min(total, maxEach)
		total -= out[i]
	}
	if total != 0 {
		panic(fmt.Sprintf("total too large by %d", total))
	}
	return out
}

// mentalHealth builds a native submission with the given item scores, answered by option code.
func mentalHealth(phq, gad []int) *Submission {
	answers := map[string]any{
		"risk_plan": false, "risk_intent": false, "previous_high_intensity_treatment": false, "under_secondary_care": false,
	}
	for i, v := range phq {
		answers[fmt.Sprintf("phq9_%d", i+1)] = fmt.Sprint(v)
	}
	for i, v := range gad {
		answers[fmt.Sprintf("gad7_%d", i+1)] = fmt.Sprint(v)
	}
	authored := time.Date(2025, 3, 14, 9, 30, 0, 0, time.UTC)
	return &Submission{Form: "mental-health", Subject: Subject{Ref: "NHS-9434765919", BirthDate: "1990-06-01"}, Answers: answers, Authored: &authored}
}

func scoreOf(t *testing.T, f *Form, sub *Submission, name string) rules.Value {
	t.Helper()
	values, err := f.Validate(sub)
	if err != nil {
		t.Fatal(err)
	}
	i, ok := f.ScoreIndex(name)
	if !ok {
		t.Fatalf("no score %s", name)
	}
	return f.Score(values)[i]
}

func TestPHQ9Bands(t *testing.T) {
	f := demoForm(t, "mental-health")
	tests := []struct {
		total int
		band  string
	}{
		{0, "minimal"}, {4, "minimal"}, {5, "mild"}, {9, "mild"}, {10, "moderate"}, {14, "moderate"},
		{15, "moderately_severe"}, {19, "moderately_severe"}, {20, "severe"}, {27, "severe"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.total), func(t *testing.T) {
			sub := mentalHealth(spreadTotal(tt.total, 9, 3), spreadTotal(0, 7, 3))
			if got := scoreOf(t, f, sub, "phq9_total"); got != rules.Int(int64(tt.total)) {
				t.Errorf("phq9_total = %#v, want %d", got, tt.total)
			}
			if got := scoreOf(t, f, sub, "phq9_band"); got != rules.String(tt.band) {
				t.Errorf("phq9_band = %#v, want %s", got, tt.band)
			}
		})
	}
}

func TestGAD7Bands(t *testing.T) {
	f := demoForm(t, "mental-health")
	tests := []struct {
		total int
		band  string
	}{
		{0, "minimal"}, {4, "minimal"}, {5, "mild"}, {9, "mild"}, {10, "moderate"}, {14, "moderate"},
		{15, "severe"}, {21, "severe"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.total), func(t *testing.T) {
			sub := mentalHealth(spreadTotal(3, 9, 3), spreadTotal(tt.total, 7, 3))
			if got := scoreOf(t, f, sub, "gad7_total"); got != rules.Int(int64(tt.total)) {
				t.Errorf("gad7_total = %#v, want %d", got, tt.total)
			}
			if got := scoreOf(t, f, sub, "gad7_band"); got != rules.String(tt.band) {
				t.Errorf("gad7_band = %#v, want %s", got, tt.band)
			}
		})
	}
}

func TestBarthelTotal(t *testing.T) {
	f := demoForm(t, "discharge")
	items := []string{"barthel_bowels", "barthel_bladder", "barthel_grooming", "barthel_toilet", "barthel_feeding",
		"barthel_transfer", "barthel_mobility", "barthel_dressing", "barthel_stairs", "barthel_bathing"}
	tests := []struct {
		name   string
		scores []int64
		total  int64
	}{
		{"fully dependent", []int64{0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 0},
		{"fully independent", []int64{2, 2, 1, 2, 2, 3, 3, 2, 2, 1}, 20},
		{"mixed", []int64{2, 1, 1, 2, 0, 3, 1, 2, 0, 1}, 13},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			answers := map[string]any{"cfs": int64(5), "lives_alone": true, "has_carer": false, "existing_care_package": false,
				"new_care_needs": true, "requires_24h_care": false, "medically_optimised": true}
			for i, id := range items {
				answers[id] = tt.scores[i]
			}
			sub := &Submission{Form: "discharge", Subject: Subject{Ref: "p1"}, Answers: answers}
			if got := scoreOf(t, f, sub, "barthel_total"); got != rules.Int(tt.total) {
				t.Errorf("barthel_total = %#v, want %d", got, tt.total)
			}
		})
	}
}

func TestScoreAbsentWhenItemMissing(t *testing.T) {
	f := testForm(t, "kitchen-sink")
	// pain is optional: without it burden cannot be known, and neither can its band.
	sub := &Submission{Form: "kitchen-sink", Subject: Subject{Ref: "p"}, Answers: map[string]any{"visits": int64(4), "housing": "own"}}
	values, err := f.Validate(sub)
	if err != nil {
		t.Fatal(err)
	}
	scores := f.Score(values)
	if scores[0].Kind != rules.KindNone || scores[1].Kind != rules.KindNone {
		t.Errorf("scores = %#v, want both absent", scores)
	}
	sub.Answers["pain"] = "some"
	values, err = f.Validate(sub)
	if err != nil {
		t.Fatal(err)
	}
	if scores := f.Score(values); scores[0] != rules.Int(5) || scores[1] != rules.String("low") {
		t.Errorf("scores = %#v, want 5 and low", scores)
	}
}

// TestScoreProperties checks, over random answers, that totals equal the item scores' sum and the band holds the total.
func TestScoreProperties(t *testing.T) {
	f := demoForm(t, "mental-health")
	rng := rand.New(rand.NewPCG(1, 2))
	phqTotal, _ := f.ScoreIndex("phq9_total")
	phqBand, _ := f.ScoreIndex("phq9_band")
	for range 500 {
		phq, gad := make([]int, 9), make([]int, 7)
		want := 0
		for i := range phq {
			phq[i] = rng.IntN(4)
			want += phq[i]
		}
		for i := range gad {
			gad[i] = rng.IntN(4)
		}
		sub := randomRepresentation(rng, f, mentalHealth(phq, gad))
		values, err := f.Validate(sub)
		if err != nil {
			t.Fatalf("answers %v: %v", sub.Answers, err)
		}
		scores := f.Score(values)
		if scores[phqTotal] != rules.Int(int64(want)) {
			t.Fatalf("phq9_total = %#v, want %d for %v", scores[phqTotal], want, phq)
		}
		inBands := 0
		for _, b := range f.Scores[phqBand].Bands {
			if want >= b.Min && want <= b.Max {
				inBands++
				if scores[phqBand] != rules.String(b.Name) {
					t.Fatalf("phq9_band = %#v, want %s for total %d", scores[phqBand], b.Name, want)
				}
			}
		}
		if inBands != 1 {
			t.Fatalf("total %d falls in %d bands", want, inBands)
		}
	}
}

// randomRepresentation re-sends each choice answer in one of the equivalent ways a client may use:
// option code, integer score, LOINC Coding, and keyed by id, LOINC code or "/"+LOINC code.
func randomRepresentation(rng *rand.Rand, f *Form, sub *Submission) *Submission {
	out := *sub
	out.Answers = make(map[string]any, len(sub.Answers))
	for key, raw := range sub.Answers {
		i, _ := f.ItemIndex(key)
		it := f.Items[i]
		code, isCode := raw.(string)
		if it.Type != TypeChoice || !isCode {
			out.Answers[key] = raw
			continue
		}
		var opt Option
		for _, o := range it.Options {
			if o.Code == code {
				opt = o
			}
		}
		var v any = code
		switch rng.IntN(3) {
		case 1:
			v = int64(*opt.Score)
		case 2:
			v = Coding{System: loincSystem, Code: opt.LOINC, Display: opt.Display}
		}
		switch rng.IntN(3) {
		case 1:
			key = it.LOINC
		case 2:
			key = "/" + it.LOINC
		}
		out.Answers[key] = v
	}
	return &out
}
