package triage

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/carepath/carepath/rules"
)

// demoForm reads one of the shipped demo forms, so tests exercise the data the product ships.
func demoForm(tb testing.TB, id string) *Form {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join("..", "fixtures", "forms", id+".v1.json"))
	if err != nil {
		tb.Fatal(err)
	}
	f, err := ParseForm(data)
	if err != nil {
		tb.Fatal(err)
	}
	return f
}

func testForm(tb testing.TB, name string) *Form {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "forms", name+".json"))
	if err != nil {
		tb.Fatal(err)
	}
	f, err := ParseForm(data)
	if err != nil {
		tb.Fatal(err)
	}
	return f
}

func TestDemoFormsParse(t *testing.T) {
	tests := []struct {
		id             string
		items          int
		scores         []string
		notice         string
		descriptionHas string
	}{
		{"mental-health", 20, []string{"phq9_total", "phq9_band", "gad7_total", "gad7_band"}, "Pfizer", "not clinical advice"},
		{"discharge", 17, []string{"barthel_total"}, "Dalhousie University", "not clinical advice"},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			f := demoForm(t, tt.id)
			if f.ID != tt.id || f.Version != 1 {
				t.Errorf("id, version = %q, %d", f.ID, f.Version)
			}
			if len(f.Items) != tt.items {
				t.Errorf("items = %d, want %d", len(f.Items), tt.items)
			}
			var names []string
			for _, s := range f.Scores {
				names = append(names, s.Name)
			}
			if !slices.Equal(names, tt.scores) {
				t.Errorf("scores = %v, want %v", names, tt.scores)
			}
			if !strings.Contains(f.Notice, tt.notice) {
				t.Errorf("notice %q lacks %q", f.Notice, tt.notice)
			}
			if !strings.Contains(f.Description, tt.descriptionHas) {
				t.Errorf("description %q lacks %q", f.Description, tt.descriptionHas)
			}
			// A form serialises back to a definition that parses to the same schema.
			data, err := json.Marshal(f)
			if err != nil {
				t.Fatal(err)
			}
			again, err := ParseForm(data)
			if err != nil {
				t.Fatalf("re-parsing the marshalled form: %v", err)
			}
			if a, b := f.Schema(), again.Schema(); !slices.Equal(a.Answers, b.Answers) || !slices.Equal(a.Scores, b.Scores) {
				t.Errorf("schema changed through JSON: %+v vs %+v", a, b)
			}
			for _, it := range f.Items {
				if !it.Required {
					t.Errorf("item %s is optional; every demo item is required", it.ID)
				}
			}
		})
	}
}

func TestMentalHealthLOINC(t *testing.T) {
	f := demoForm(t, "mental-health")
	want := map[string]string{
		"phq9_1": "44250-9", "phq9_2": "44255-8", "phq9_3": "44259-0", "phq9_4": "44254-1", "phq9_5": "44251-7",
		"phq9_6": "44258-2", "phq9_7": "44252-5", "phq9_8": "44253-3", "phq9_9": "44260-8",
		"gad7_1": "69725-0", "gad7_2": "68509-9", "gad7_3": "69733-4", "gad7_4": "69734-2", "gad7_5": "69735-9",
		"gad7_6": "69689-8", "gad7_7": "69736-7",
	}
	for id, code := range want {
		i, ok := f.ItemIndex(id)
		if !ok {
			t.Fatalf("no item %s", id)
		}
		if f.Items[i].LOINC != code {
			t.Errorf("%s loinc = %s, want %s", id, f.Items[i].LOINC, code)
		}
		for _, key := range []string{code, "/" + code} {
			if j, ok := f.lookupKey(key); !ok || j != i {
				t.Errorf("lookupKey(%q) = %d, %v; want %d", key, j, ok, i)
			}
		}
		answers := []string{"LA6568-5", "LA6569-3", "LA6570-1", "LA6571-9"}
		for k, o := range f.Items[i].Options {
			if o.LOINC != answers[k] || o.Score == nil || *o.Score != k {
				t.Errorf("%s option %d = %+v", id, k, o)
			}
		}
	}
	panels := map[string]string{"phq9": "44249-1", "gad7": "69737-5"}
	for _, g := range f.Groups {
		if panels[g.ID] != g.LOINC {
			t.Errorf("group %s loinc = %s", g.ID, g.LOINC)
		}
	}
	totals := map[string]string{"phq9_total": "44261-6", "gad7_total": "70274-6"}
	for name, code := range totals {
		i, _ := f.ScoreIndex(name)
		if f.Scores[i].LOINC != code {
			t.Errorf("%s loinc = %s, want %s", name, f.Scores[i].LOINC, code)
		}
	}
}

func TestSchema(t *testing.T) {
	f := testForm(t, "kitchen-sink")
	s := f.Schema()
	want := rules.Schema{
		Form:    "kitchen-sink",
		Version: 3,
		Answers: []rules.Field{
			{Name: "weight_kg", Kind: rules.KindDouble}, {Name: "visits", Kind: rules.KindInt}, {Name: "falls", Kind: rules.KindInt},
			{Name: "smoker", Kind: rules.KindBool}, {Name: "note", Kind: rules.KindString}, {Name: "seen_on", Kind: rules.KindString},
			{Name: "housing", Kind: rules.KindString}, {Name: "pain", Kind: rules.KindInt},
		},
		Scores: []rules.Field{{Name: "burden", Kind: rules.KindInt}, {Name: "burden_band", Kind: rules.KindString}},
	}
	if s.Form != want.Form || s.Version != want.Version || !slices.Equal(s.Answers, want.Answers) || !slices.Equal(s.Scores, want.Scores) {
		t.Errorf("Schema() = %+v\nwant %+v", s, want)
	}
	s.Answers[0].Name = "changed"
	if f.Schema().Answers[0].Name != "weight_kg" {
		t.Error("Schema() shares its slices with the form")
	}

	mh := demoForm(t, "mental-health").Schema()
	for _, fld := range mh.Answers {
		wantKind := rules.KindInt
		if !strings.HasPrefix(fld.Name, "phq9_") && !strings.HasPrefix(fld.Name, "gad7_") {
			wantKind = rules.KindBool
		}
		if fld.Kind != wantKind {
			t.Errorf("mental-health %s kind = %s, want %s", fld.Name, fld.Kind, wantKind)
		}
	}
}

func TestParseFormRejects(t *testing.T) {
	const base = `{"id":"f","version":1,"title":"T","url":"https://x/Questionnaire/f","items":[%s],"groups":[%s],"scores":[%s]}`
	const scored = `{"id":"a","text":"A","type":"choice","options":[{"code":"0","display":"No","score":0},{"code":"1","display":"Yes","score":1}]}`
	const bounded = `{"id":"b","text":"B","type":"integer","min":0,"max":3}`
	tests := []struct {
		name, items, groups, scores string
		want                        string
	}{
		{"duplicate id", scored + "," + scored, "", "", `"a" is used twice`},
		{"unknown type", `{"id":"a","text":"A","type":"number"}`, "", "", `"number" is not one of`},
		{"choice without options", `{"id":"a","text":"A","type":"choice"}`, "", "", "needs at least one option"},
		{"bad id", `{"id":"1a","text":"A","type":"boolean"}`, "", "", "must be a letter"},
		{"bad loinc check digit", `{"id":"a","text":"A","type":"boolean","loinc":"44250-8"}`, "", "", "not a valid LOINC code"},
		{"duplicate loinc", `{"id":"a","text":"A","type":"boolean","loinc":"44250-9"},{"id":"c","text":"C","type":"boolean","loinc":"44250-9"}`, "", "", "already used by items.a"},
		{"sum over boolean", `{"id":"a","text":"A","type":"boolean"}`, "", `{"name":"s","sum":["a"]}`, "bounded integer or a scored choice"},
		{"sum over unbounded integer", `{"id":"a","text":"A","type":"integer","min":0}`, "", `{"name":"s","sum":["a"]}`, "bounded integer"},
		{"sum over unknown item", scored, "", `{"name":"s","sum":["zz"]}`, `unknown item "zz"`},
		{"band gap", bounded, "", `{"name":"s","sum":["b"]},{"name":"k","band_of":"s","bands":[{"name":"lo","min":0,"max":1},{"name":"hi","min":3,"max":3}]}`, "no band covers 2"},
		{"band overlap", bounded, "", `{"name":"s","sum":["b"]},{"name":"k","band_of":"s","bands":[{"name":"lo","min":0,"max":2},{"name":"hi","min":2,"max":3}]}`, "overlaps at 2"},
		{"band short", bounded, "", `{"name":"s","sum":["b"]},{"name":"k","band_of":"s","bands":[{"name":"lo","min":0,"max":2}]}`, "no band covers 3"},
		{"band beyond", bounded, "", `{"name":"s","sum":["b"]},{"name":"k","band_of":"s","bands":[{"name":"lo","min":0,"max":4}]}`, "beyond the sum's maximum 3"},
		{"band starts late", bounded, "", `{"name":"s","sum":["b"]},{"name":"k","band_of":"s","bands":[{"name":"lo","min":1,"max":3}]}`, "no band covers 0"},
		{"band of band", bounded, "", `{"name":"s","sum":["b"]},{"name":"k","band_of":"s","bands":[{"name":"all","min":0,"max":3}]},{"name":"j","band_of":"k","bands":[{"name":"x","min":0,"max":3}]}`, `"k" is not a sum score`},
		{"group with unknown item", scored, `{"id":"g","text":"G","items":["zz"]}`, "", `unknown item "zz"`},
		{"item in two groups", scored, `{"id":"g","text":"G","items":["a"]},{"id":"h","text":"H","items":["a"]}`, "", "already in groups.g"},
		{"integer min not whole", `{"id":"a","text":"A","type":"integer","min":0.5}`, "", "", "whole number"},
		{"min above max", `{"id":"a","text":"A","type":"decimal","min":2,"max":1}`, "", "", "greater than max"},
		{"options on boolean", `{"id":"a","text":"A","type":"boolean","options":[{"code":"x","display":"X"}]}`, "", "", "only choice items have options"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := strings.Replace(strings.Replace(strings.Replace(base, "%s", tt.items, 1), "%s", tt.groups, 1), "%s", tt.scores, 1)
			_, err := ParseForm([]byte(doc))
			if err == nil {
				t.Fatalf("ParseForm accepted %s", doc)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
		})
	}
	if _, err := ParseForm([]byte(`{"id":"f","version":1,"title":"T","url":"u","items":[` + bounded + `],"extra":1}`)); err == nil {
		t.Error("ParseForm accepted an unknown field")
	}
}

func TestLOINCCheckDigit(t *testing.T) {
	tests := []struct {
		code string
		ok   bool
	}{
		{"44261-6", true}, {"44249-1", true}, {"69737-5", true}, {"70274-6", true}, {"68509-9", true},
		{"44261-7", false}, {"4426-16", false}, {"44261", false}, {"-6", false}, {"a4261-6", false}, {"12345678-9", false},
	}
	for _, tt := range tests {
		if got := isLOINCCode(tt.code); got != tt.ok {
			t.Errorf("isLOINCCode(%q) = %v, want %v", tt.code, got, tt.ok)
		}
	}
}
