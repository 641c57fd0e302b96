package triage

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata from current output")

// golden compares got with testdata/name, or rewrites the file under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update to create it)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from golden file; got:\n%s", path, got)
	}
}

func TestQuestionnaireGolden(t *testing.T) {
	for _, id := range []string{"mental-health", "discharge"} {
		t.Run(id, func(t *testing.T) {
			f := demoForm(t, id)
			got, err := f.Questionnaire()
			if err != nil {
				t.Fatal(err)
			}
			again, _ := f.Questionnaire()
			if !bytes.Equal(got, again) {
				t.Error("Questionnaire is not deterministic")
			}
			golden(t, filepath.Join("questionnaire", id+".v1.json"), got)
		})
	}
}

// TestQuestionnaireStructure checks the FHIR shape independently of the golden bytes.
func TestQuestionnaireStructure(t *testing.T) {
	f := demoForm(t, "mental-health")
	data, err := f.Questionnaire()
	if err != nil {
		t.Fatal(err)
	}
	var q fhirQuestionnaire
	if err := json.Unmarshal(data, &q); err != nil {
		t.Fatal(err)
	}
	if q.ResourceType != "Questionnaire" || q.Version != "1" || q.Status != "active" || q.URL != f.URL || q.Copyright != f.Notice || q.Name != "MentalHealth" {
		t.Errorf("header = %+v", q)
	}
	types := []string{"group", "group", "boolean", "boolean", "boolean", "boolean"}
	if len(q.Item) != len(types) {
		t.Fatalf("top-level items = %d, want %d", len(q.Item), len(types))
	}
	for i, it := range q.Item {
		if it.Type != types[i] {
			t.Errorf("item %d %s type = %s, want %s", i, it.LinkID, it.Type, types[i])
		}
	}
	phq := q.Item[0]
	if phq.LinkID != "phq9" || len(phq.Code) != 1 || phq.Code[0].Code != "44249-1" || len(phq.Item) != 9 {
		t.Fatalf("phq9 group = %+v", phq)
	}
	first := phq.Item[0]
	if first.LinkID != "phq9_1" || first.Type != "choice" || !first.Required || first.Code[0] != (Coding{System: loincSystem, Code: "44250-9"}) {
		t.Errorf("phq9_1 = %+v", first)
	}
	if len(first.AnswerOption) != 4 {
		t.Fatalf("phq9_1 options = %d", len(first.AnswerOption))
	}
	for k, o := range first.AnswerOption {
		c := o.ValueCoding
		if c.System != loincSystem || len(c.Extension) != 1 || c.Extension[0].URL != ordinalValueURL || string(c.Extension[0].ValueDecimal) != string(rune('0'+k)) {
			t.Errorf("option %d = %+v", k, c)
		}
	}

	dis := demoForm(t, "discharge")
	data, _ = dis.Questionnaire()
	q = fhirQuestionnaire{}
	if err := json.Unmarshal(data, &q); err != nil {
		t.Fatal(err)
	}
	var cfs *fhirQItem
	for i := range q.Item {
		if q.Item[i].LinkID == "cfs" {
			cfs = &q.Item[i]
		}
	}
	if cfs == nil || len(cfs.Extension) != 2 || cfs.Extension[0].URL != minValueURL || *cfs.Extension[0].ValueInteger != 1 ||
		cfs.Extension[1].URL != maxValueURL || *cfs.Extension[1].ValueInteger != 9 {
		t.Errorf("cfs = %+v", cfs)
	}
}

func TestQuestionnaireUnscoredOptionsUseFormSystem(t *testing.T) {
	f := testForm(t, "kitchen-sink")
	data, err := f.Questionnaire()
	if err != nil {
		t.Fatal(err)
	}
	var q fhirQuestionnaire
	if err := json.Unmarshal(data, &q); err != nil {
		t.Fatal(err)
	}
	for _, it := range q.Item {
		if it.LinkID != "housing" {
			continue
		}
		for _, o := range it.AnswerOption {
			if o.ValueCoding.System != f.URL || o.ValueCoding.Extension != nil {
				t.Errorf("housing option = %+v", o.ValueCoding)
			}
		}
		return
	}
	t.Error("no housing item")
}
