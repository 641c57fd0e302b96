package triage

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/carepath/carepath/rules"
)

// ItemType is the answer type of a form item.
type ItemType string

// The item types a form may use; they map one to one onto FHIR Questionnaire item types.
const (
	TypeInteger ItemType = "integer"
	TypeDecimal ItemType = "decimal"
	TypeBoolean ItemType = "boolean"
	TypeChoice  ItemType = "choice"
	TypeString  ItemType = "string"
	TypeDate    ItemType = "date"
)

// Form is one published version of an assessment form; once parsed it is read-only and safe for concurrent use.
type Form struct {
	ID          string  `json:"id"`
	Version     int     `json:"version"`
	Title       string  `json:"title"`
	Description string  `json:"description,omitempty"`
	URL         string  `json:"url"`
	Notice      string  `json:"notice,omitempty"`
	Items       []Item  `json:"items"`
	Groups      []Group `json:"groups,omitempty"`
	Scores      []Score `json:"scores,omitempty"`

	// Indexes built once by ParseForm so that validation and scoring need no maps of their own.
	itemByID    map[string]int
	itemByLOINC map[string]int
	scoreByName map[string]int
	itemKinds   []rules.Kind
	scored      []bool // scored[i]: item i is a choice whose every option has a score
	sums        [][]int
	bandSource  []int // bandSource[s]: index of the sum score that band score s reads
	schema      rules.Schema
}

// Item is one question on a form.
type Item struct {
	ID       string   `json:"id"`
	Text     string   `json:"text"`
	Type     ItemType `json:"type"`
	Required bool     `json:"required,omitempty"`
	Min      *float64 `json:"min,omitempty"`
	Max      *float64 `json:"max,omitempty"`
	Options  []Option `json:"options,omitempty"`
	LOINC    string   `json:"loinc,omitempty"`
}

// Option is one permitted answer to a choice item.
type Option struct {
	Code    string `json:"code"`
	Display string `json:"display"`
	Score   *int   `json:"score,omitempty"`
	LOINC   string `json:"loinc,omitempty"`
}

// Group gathers items under a heading so that FHIR exports nest them as a panel.
type Group struct {
	ID    string   `json:"id"`
	Text  string   `json:"text"`
	LOINC string   `json:"loinc,omitempty"`
	Items []string `json:"items"`
}

// Score is a derived value: either the sum of items or the band that a sum falls in.
type Score struct {
	Name   string   `json:"name"`
	Sum    []string `json:"sum,omitempty"`
	LOINC  string   `json:"loinc,omitempty"`
	BandOf string   `json:"band_of,omitempty"`
	Bands  []Band   `json:"bands,omitempty"`
}

// Band names an inclusive range of a sum score.
type Band struct {
	Name string `json:"name"`
	Min  int    `json:"min"`
	Max  int    `json:"max"`
}

// ParseForm decodes and checks a form definition and builds the indexes that validation and scoring use.
func ParseForm(data []byte) (*Form, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f Form
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("triage: unable to parse form: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("triage: unable to parse form: unexpected data after the form object")
	}
	if problems := f.build(); len(problems) > 0 {
		return nil, fmt.Errorf("triage: invalid form %q version %d: %s", f.ID, f.Version, strings.Join(problems, "; "))
	}
	return &f, nil
}

// build checks the definition and fills the indexes, returning every problem found.
func (f *Form) build() []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	if !isFormID(f.ID) {
		add("id: must be 1 to 64 lower-case letters, digits or hyphens, got %q", f.ID)
	}
	if f.Version < 1 {
		add("version: must be at least 1, got %d", f.Version)
	}
	if strings.TrimSpace(f.Title) == "" {
		add("title: required")
	}
	if strings.TrimSpace(f.URL) == "" {
		add("url: required")
	}
	if len(f.Items) == 0 {
		add("items: at least one item is required")
	}

	f.itemByID = make(map[string]int, len(f.Items))
	f.itemByLOINC = make(map[string]int)
	f.itemKinds = make([]rules.Kind, len(f.Items))
	f.scored = make([]bool, len(f.Items))
	loincs := make(map[string]string) // every LOINC code on the form, to its owner, for uniqueness

	claimLOINC := func(code, owner string) {
		if code == "" {
			return
		}
		if !isLOINCCode(code) {
			add("%s.loinc: %q is not a valid LOINC code (digits, hyphen, check digit)", owner, code)
			return
		}
		if prev, ok := loincs[code]; ok {
			add("%s.loinc: %q is already used by %s", owner, code, prev)
			return
		}
		loincs[code] = owner
	}

	for i := range f.Items {
		it := &f.Items[i]
		at := fmt.Sprintf("items[%d]", i)
		if !isIdentifier(it.ID) {
			add("%s.id: must be a letter or underscore followed by letters, digits or underscores, got %q", at, it.ID)
		} else if _, dup := f.itemByID[it.ID]; dup {
			add("%s.id: %q is used twice", at, it.ID)
		} else {
			f.itemByID[it.ID] = i
			at = "items." + it.ID
		}
		if strings.TrimSpace(it.Text) == "" {
			add("%s.text: required", at)
		}
		claimLOINC(it.LOINC, at)
		if it.LOINC != "" {
			f.itemByLOINC[it.LOINC] = i
		}
		switch it.Type {
		case TypeInteger, TypeDecimal:
			f.itemKinds[i] = rules.KindInt
			if it.Type == TypeDecimal {
				f.itemKinds[i] = rules.KindDouble
			}
			for _, b := range []struct {
				name string
				v    *float64
			}{{"min", it.Min}, {"max", it.Max}} {
				if b.v == nil {
					continue
				}
				if math.IsNaN(*b.v) || math.IsInf(*b.v, 0) {
					add("%s.%s: must be finite", at, b.name)
				} else if it.Type == TypeInteger && (*b.v != math.Trunc(*b.v) || math.Abs(*b.v) > 1<<53) {
					add("%s.%s: must be a whole number for an integer item", at, b.name)
				}
			}
			if it.Min != nil && it.Max != nil && *it.Min > *it.Max {
				add("%s: min %v is greater than max %v", at, *it.Min, *it.Max)
			}
		case TypeChoice:
			if len(it.Options) == 0 {
				add("%s.options: a choice item needs at least one option", at)
			}
			codes := make(map[string]bool, len(it.Options))
			answerCodes := make(map[string]bool, len(it.Options))
			allScored := len(it.Options) > 0
			for j, o := range it.Options {
				oat := fmt.Sprintf("%s.options[%d]", at, j)
				if o.Code == "" {
					add("%s.code: required", oat)
				} else if codes[o.Code] {
					add("%s.code: %q is used twice", oat, o.Code)
				}
				codes[o.Code] = true
				if strings.TrimSpace(o.Display) == "" {
					add("%s.display: required", oat)
				}
				if o.LOINC != "" {
					if !isLOINCAnswerCode(o.LOINC) {
						add("%s.loinc: %q is not a LOINC answer code (LA digits hyphen digit)", oat, o.LOINC)
					} else if answerCodes[o.LOINC] {
						add("%s.loinc: %q is used twice", oat, o.LOINC)
					}
					answerCodes[o.LOINC] = true
				}
				if o.Score == nil {
					allScored = false
				}
			}
			for j, o := range it.Options {
				if o.LOINC != "" && codes[o.LOINC] && o.LOINC != o.Code {
					add("%s.options[%d].loinc: %q is also another option's code", at, j, o.LOINC)
				}
			}
			f.scored[i] = allScored
			f.itemKinds[i] = rules.KindString
			if allScored {
				f.itemKinds[i] = rules.KindInt
			}
		case TypeBoolean:
			f.itemKinds[i] = rules.KindBool
		case TypeString, TypeDate:
			f.itemKinds[i] = rules.KindString
		default:
			add("%s.type: %q is not one of integer, decimal, boolean, choice, string, date", at, it.Type)
		}
		if it.Type != TypeChoice && len(it.Options) > 0 {
			add("%s.options: only choice items have options", at)
		}
		if it.Type != TypeInteger && it.Type != TypeDecimal && (it.Min != nil || it.Max != nil) {
			add("%s: only integer and decimal items have min and max", at)
		}
	}

	grouped := make(map[string]string)
	groupIDs := make(map[string]bool, len(f.Groups))
	for i, g := range f.Groups {
		at := fmt.Sprintf("groups[%d]", i)
		if !isIdentifier(g.ID) {
			add("%s.id: must be an identifier, got %q", at, g.ID)
		} else if _, clash := f.itemByID[g.ID]; clash || groupIDs[g.ID] {
			add("%s.id: %q is already used by an item or group", at, g.ID)
		} else {
			at = "groups." + g.ID
		}
		groupIDs[g.ID] = true
		if strings.TrimSpace(g.Text) == "" {
			add("%s.text: required", at)
		}
		claimLOINC(g.LOINC, at)
		if len(g.Items) == 0 {
			add("%s.items: a group needs at least one item", at)
		}
		for _, id := range g.Items {
			if _, ok := f.itemByID[id]; !ok {
				add("%s.items: unknown item %q", at, id)
			} else if prev, ok := grouped[id]; ok {
				add("%s.items: item %q is already in %s", at, id, prev)
			} else {
				grouped[id] = at
			}
		}
	}

	f.scoreByName = make(map[string]int, len(f.Scores))
	for i, s := range f.Scores {
		if !isIdentifier(s.Name) {
			add("scores[%d].name: must be an identifier, got %q", i, s.Name)
		} else if _, dup := f.scoreByName[s.Name]; dup {
			add("scores[%d].name: %q is used twice", i, s.Name)
		} else {
			f.scoreByName[s.Name] = i
		}
	}
	f.sums = make([][]int, len(f.Scores))
	f.bandSource = make([]int, len(f.Scores))
	ranges := make([][2]int, len(f.Scores))
	// Sums first, so that bands can check their coverage against the sum's range.
	for i, s := range f.Scores {
		at := "scores." + s.Name
		f.bandSource[i] = -1
		if len(s.Sum) == 0 {
			continue
		}
		if s.BandOf != "" || len(s.Bands) > 0 {
			add("%s: a score is either a sum or a band, not both", at)
		}
		claimLOINC(s.LOINC, at)
		idx := make([]int, 0, len(s.Sum))
		lo, hi := 0, 0
		for _, id := range s.Sum {
			j, ok := f.itemByID[id]
			if !ok {
				add("%s.sum: unknown item %q", at, id)
				continue
			}
			if slices.Contains(idx, j) {
				add("%s.sum: item %q appears twice", at, id)
				continue
			}
			itLo, itHi, ok := f.itemRange(j)
			if !ok {
				add("%s.sum: item %q must be a bounded integer or a scored choice", at, id)
				continue
			}
			idx = append(idx, j)
			lo += itLo
			hi += itHi
		}
		f.sums[i] = idx
		ranges[i] = [2]int{lo, hi}
	}
	for i, s := range f.Scores {
		at := "scores." + s.Name
		if len(s.Sum) > 0 {
			continue
		}
		if s.BandOf == "" {
			add("%s: needs either sum or band_of", at)
			continue
		}
		if s.LOINC != "" {
			add("%s.loinc: only sum scores carry a LOINC code", at)
		}
		src, ok := f.scoreByName[s.BandOf]
		if !ok || len(f.Scores[src].Sum) == 0 {
			add("%s.band_of: %q is not a sum score on this form", at, s.BandOf)
			continue
		}
		f.bandSource[i] = src
		if msg := checkBands(s.Bands, ranges[src][0], ranges[src][1]); msg != "" {
			add("%s.bands: %s", at, msg)
		}
	}

	f.schema = rules.Schema{Form: f.ID, Version: f.Version, Answers: make([]rules.Field, len(f.Items)), Scores: make([]rules.Field, len(f.Scores))}
	for i, it := range f.Items {
		f.schema.Answers[i] = rules.Field{Name: it.ID, Kind: f.itemKinds[i]}
	}
	for i, s := range f.Scores {
		k := rules.KindInt
		if len(s.Sum) == 0 {
			k = rules.KindString
		}
		f.schema.Scores[i] = rules.Field{Name: s.Name, Kind: k}
	}
	return problems
}

// itemRange reports the lowest and highest contribution item i can make to a sum.
func (f *Form) itemRange(i int) (lo, hi int, ok bool) {
	it := f.Items[i]
	switch {
	case it.Type == TypeInteger && it.Min != nil && it.Max != nil:
		return int(*it.Min), int(*it.Max), true
	case it.Type == TypeChoice && f.scored[i]:
		lo, hi = math.MaxInt, math.MinInt
		for _, o := range it.Options {
			lo, hi = min(lo, *o.Score), max(hi, *o.Score)
		}
		return lo, hi, true
	}
	return 0, 0, false
}

// checkBands reports why bands fail to cover lo..hi exactly once, or "" when they do.
func checkBands(bands []Band, lo, hi int) string {
	if len(bands) == 0 {
		return "at least one band is required"
	}
	names := make(map[string]bool, len(bands))
	for _, b := range bands {
		if b.Name == "" {
			return "every band needs a name"
		}
		if names[b.Name] {
			return fmt.Sprintf("band %q is named twice", b.Name)
		}
		names[b.Name] = true
		if b.Min > b.Max {
			return fmt.Sprintf("band %q has min %d above max %d", b.Name, b.Min, b.Max)
		}
	}
	sorted := slices.Clone(bands)
	slices.SortFunc(sorted, func(a, b Band) int { return a.Min - b.Min })
	next := lo
	for _, b := range sorted {
		switch {
		case b.Min < next:
			return fmt.Sprintf("band %q overlaps at %d", b.Name, b.Min)
		case b.Min > next:
			return fmt.Sprintf("no band covers %d", next)
		}
		next = b.Max + 1
	}
	if next <= hi {
		return fmt.Sprintf("no band covers %d", next)
	}
	if next > hi+1 {
		return fmt.Sprintf("bands reach %d, beyond the sum's maximum %d", next-1, hi)
	}
	return ""
}

// Schema describes the form's answers and scores to the rules engine.
func (f *Form) Schema() rules.Schema {
	s := f.schema
	s.Answers = slices.Clone(s.Answers)
	s.Scores = slices.Clone(s.Scores)
	return s
}

// ItemIndex finds an item's position by id, the position of its value in Validate's result.
func (f *Form) ItemIndex(id string) (int, bool) {
	i, ok := f.itemByID[id]
	return i, ok
}

// ScoreIndex finds a score's position by name, the position of its value in Score's result.
func (f *Form) ScoreIndex(name string) (int, bool) {
	i, ok := f.scoreByName[name]
	return i, ok
}

// lookupKey resolves an answer key, which may be an item id or its LOINC code, bare, with a leading "/",
// or as the last step of a path such as "/44249-1/44250-9" (the linkIds of LOINC's own forms).
func (f *Form) lookupKey(key string) (int, bool) {
	if i, ok := f.itemByID[key]; ok {
		return i, true
	}
	key = key[strings.LastIndexByte(key, '/')+1:]
	i, ok := f.itemByLOINC[key]
	return i, ok
}

func isFormID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// isIdentifier accepts names that CEL can select as fields, such as answers.phq9_1.
func isIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
		if !letter && !(i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// isLOINCCode checks the form and the mod-10 check digit, which catches most transcription slips.
func isLOINCCode(s string) bool {
	body, check, ok := strings.Cut(s, "-")
	if !ok || len(body) == 0 || len(body) > 7 || len(check) != 1 || !allDigits(body) || !allDigits(check) {
		return false
	}
	sum := 0
	for i := 0; i < len(body); i++ {
		d := int(body[len(body)-1-i] - '0')
		if i%2 == 0 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return strconv.Itoa((10-sum%10)%10) == check
}

// isLOINCAnswerCode checks the LA form; answer codes use a different check digit scheme, so only the shape is checked.
func isLOINCAnswerCode(s string) bool {
	rest, ok := strings.CutPrefix(s, "LA")
	if !ok {
		return false
	}
	body, check, ok := strings.Cut(rest, "-")
	return ok && len(body) > 0 && len(check) == 1 && allDigits(body) && allDigits(check)
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
