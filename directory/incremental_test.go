package directory

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// DirectoryChanger makes random changes to a stored directory, as imports and careless hand
// edits would: renames, moved or removed areas, changed eligibility, ages, status, schedules and
// capacity, deletes, new services, and now and then a change that must fail the build (a
// duplicate id, an expression that does not compile, an unknown status). Documents are keyed by
// code as the services table is.
type DirectoryChanger struct {
	rng  *rand.Rand
	docs map[string][]byte
	next int
	// undo restores what the changes since the last good build replaced (nil deletes), so an
	// invalid change does not stick for the rest of a run.
	undo map[string][]byte
}

// NewDirectoryChanger starts from services, stored as PutServices would store them.
func NewDirectoryChanger(t testing.TB, seed uint64, services []Service) *DirectoryChanger {
	t.Helper()
	c := &DirectoryChanger{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b9)), docs: map[string][]byte{}, undo: map[string][]byte{}}
	for _, s := range services {
		c.docs[s.key()] = mustDocument(t, s)
	}
	return c
}

func mustDocument(t testing.TB, s Service) []byte {
	t.Helper()
	b, err := json.Marshal(canonical(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Docs is the directory now, by stored key.
func (c *DirectoryChanger) Docs() map[string][]byte { return c.docs }

// Rows is the directory now as ServiceDocuments lists it.
func (c *DirectoryChanger) Rows() []StoredService {
	rows := make([]StoredService, 0, len(c.docs))
	for _, id := range slices.Sorted(maps.Keys(c.docs)) {
		rows = append(rows, StoredService{ID: id, Document: c.docs[id]})
	}
	return rows
}

// Step makes one to three changes and returns them: a nil document is a delete. After a build
// that failed (failed true), the previous step is undone first most of the time.
func (c *DirectoryChanger) Step(t testing.TB, failed bool) (changes map[string][]byte, what []string) {
	t.Helper()
	changes = map[string][]byte{}
	set := func(key string, doc []byte) {
		if _, seen := c.undo[key]; !seen {
			if old, ok := c.docs[key]; ok {
				c.undo[key] = old
			} else {
				c.undo[key] = nil
			}
		}
		changes[key] = doc
		if doc == nil {
			delete(c.docs, key)
		} else {
			c.docs[key] = doc
		}
	}
	if failed && c.rng.IntN(5) > 0 {
		for key, doc := range c.undo {
			changes[key] = doc
			if doc == nil {
				delete(c.docs, key)
			} else {
				c.docs[key] = doc
			}
		}
		c.undo = map[string][]byte{}
		return changes, []string{"undo"}
	}
	if !failed {
		c.undo = map[string][]byte{}
	}
	keys := slices.Sorted(maps.Keys(c.docs))
	for range 1 + c.rng.IntN(3) {
		if len(keys) == 0 {
			break
		}
		key := keys[c.rng.IntN(len(keys))]
		var s Service
		if err := json.Unmarshal(c.docs[key], &s); err != nil {
			t.Fatal(err)
		}
		c.next++
		n := c.next
		kind := c.rng.IntN(13)
		switch kind {
		case 0:
			s.Name = fmt.Sprintf("Renamed service %d", n)
		case 1:
			lat, lon := 53.5+c.rng.Float64()*0.5, -2.2+c.rng.Float64()
			s.ServiceAreas = []ServiceArea{{ID: fmt.Sprintf("moved-area-%d", n), Name: fmt.Sprintf("Moved %d", n), ExtentType: "geojson",
				Extent: fmt.Sprintf(`{"type":"Polygon","coordinates":[%s]}`, regularPolygon(lat, lon, 3000+c.rng.Float64()*20000, 12))}}
		case 2:
			s.ServiceAreas = nil // covers everywhere
		case 3:
			s.CarepathEligibility = []string{"", "subject.age_known && subject.age < 30", "outcome.priority == 'urgent'",
				"'carer' in outcome.flags", "subject.age +", "subject.postcode"}[c.rng.IntN(6)] // the last two do not compile
		case 4:
			s.MinimumAge, s.MaximumAge = nil, nil
			if c.rng.IntN(2) == 0 {
				v := float64(c.rng.IntN(70) - 2) // sometimes negative
				s.MinimumAge = &v
			}
			if c.rng.IntN(2) == 0 {
				v := float64(10 + c.rng.IntN(90)) // sometimes below the minimum
				s.MaximumAge = &v
			}
		case 5:
			s.Status = []string{StatusActive, StatusActive, StatusInactive, StatusDefunct, StatusTemporarilyClosed, "closed"}[c.rng.IntN(6)]
		case 6:
			switch c.rng.IntN(4) {
			case 0:
				s.Schedules = nil
			case 1:
				s.Schedules = []Schedule{{ID: fmt.Sprintf("sched-%d", n), Freq: "WEEKLY", Byday: "SA,SU", OpensAt: "10:00", ClosesAt: "14:00"}}
			case 2:
				s.Schedules = []Schedule{{ID: fmt.Sprintf("sched-%d", n), Freq: "WEEKLY", OpensAt: "00:00", ClosesAt: "23:59"}}
			default:
				s.Schedules = []Schedule{{ID: fmt.Sprintf("sched-%d", n), Freq: "DAILY", OpensAt: "09:00", ClosesAt: "17:00"}} // unsupported
			}
		case 7:
			s.Capacities = nil
			if c.rng.IntN(3) > 0 {
				s.Capacities = []ServiceCapacity{{ID: fmt.Sprintf("cap-%d", n), Available: float64(c.rng.IntN(4) - c.rng.IntN(2))}}
			}
		case 8:
			set(key, nil)
			what = append(what, "delete "+key)
			keys = slices.DeleteFunc(keys, func(k string) bool { return k == key })
			continue
		case 9:
			fresh := generateServices(1, uint64(n))[0]
			fresh.ID = fmt.Sprintf("new-%05d", n)
			fresh.Name = "New service " + fresh.ID
			fresh.Attributes = []Attribute{pathwayAttr(fresh.ID, generatedPathway(c.rng.IntN(12)))}
			set(fresh.ID, mustDocument(t, fresh))
			what = append(what, "add "+fresh.ID)
			continue
		case 10:
			// Another code for a service already stored: the same HSDS id twice must fail.
			s.Code = fmt.Sprintf("dup-%05d", n)
			set(s.Code, mustDocument(t, s))
			what = append(what, "duplicate id of "+key)
			continue
		case 11:
			// Another pathway, so the pathway lists change too.
			s.Attributes = append(s.Attributes, pathwayAttr(fmt.Sprintf("p%d", n), generatedPathway(c.rng.IntN(13))))
		case 12:
			// Stored again unchanged, as a daily full import stores most services.
		}
		set(key, mustDocument(t, s))
		what = append(what, fmt.Sprintf("change %d of %s", kind, key))
	}
	return changes, what
}

// IndexQueries are the queries CompareIndexes asks: every pathway either index knows and one
// that none delivers, at points across West Yorkshire and beyond, for known and unknown ages, in
// and out of office hours.
func IndexQueries(a, b *Index) []Query {
	pathways := slices.Concat(a.Pathways(), b.Pathways(), []string{"no-such-pathway"})
	slices.Sort(pathways)
	pathways = slices.Compact(pathways)
	points := [][2]float64{{53.7997, -1.5492}, {53.75, -1.7}, {53.6833, -1.4977}, {53.645, -1.785}, {53.95, -1.3}, {51.5, -0.12}}
	var out []Query
	for _, p := range pathways {
		for i, pt := range points {
			q := Query{
				Pathway: p, Priority: []string{"routine", "urgent", "emergency"}[i%3], Postcode: "LS1 5HD",
				RespondWithin: time.Duration(i%3) * 6 * time.Hour, Lat: pt[0], Lon: pt[1],
				At:     time.Date(2025, 3, 3+i, 8+i*3, 0, 0, 0, time.UTC),
				Travel: greatCircleMinutes, IncludeRejected: true,
			}
			if i%2 == 0 {
				q.Age = YearsOld(15 + i*12)
			}
			if i%3 == 1 {
				q.Flags = []string{"carer"}
			}
			out = append(out, q)
		}
	}
	return out
}

// CompareIndexes describes every difference a caller could see between got and want: the
// services, their lookups by id and code, the pathways, and the results, rejections and reasons
// of queries; empty when there is none.
func CompareIndexes(got, want *Index, queries []Query) string {
	var diffs []string
	if got.Len() != want.Len() {
		diffs = append(diffs, fmt.Sprintf("Len %d, want %d", got.Len(), want.Len()))
	}
	// Equal values, kept members included, encode to equal documents.
	if !reflect.DeepEqual(got.Services(), want.Services()) {
		diffs = append(diffs, "Services differ")
	}
	if g, w := got.Pathways(), want.Pathways(); !slices.Equal(g, w) {
		diffs = append(diffs, fmt.Sprintf("Pathways %v, want %v", g, w))
	}
	for _, s := range slices.Concat(got.Services(), want.Services()) {
		for _, id := range []string{s.ID, s.Code, "missing-" + s.ID} {
			g, gok := got.Service(id)
			w, wok := want.Service(id)
			if gok != wok || !reflect.DeepEqual(g, w) {
				diffs = append(diffs, fmt.Sprintf("Service(%q) differs", id))
			}
		}
	}
	for _, q := range queries {
		g, w := got.Match(q), want.Match(q)
		gj, _ := json.Marshal(g)
		wj, _ := json.Marshal(w)
		if string(gj) != string(wj) || !reflect.DeepEqual(g, w) {
			diffs = append(diffs, fmt.Sprintf("Match(%s at %g,%g):\n got %s\nwant %s", q.Pathway, q.Lat, q.Lon, gj, wj))
		}
	}
	for _, f := range []Filter{{}, {Search: "renamed"}, {Lat: 53.75, Lon: -1.7, Proximity: 5000}, {MinimumAge: new(70)}} {
		g, w := got.Filter(f), want.Filter(f)
		if !reflect.DeepEqual(g, w) {
			diffs = append(diffs, fmt.Sprintf("Filter(%+v) differs", f))
		}
	}
	if len(diffs) > 10 {
		diffs = append(diffs[:10], fmt.Sprintf("and %d more", len(diffs)-10))
	}
	return strings.Join(diffs, "\n")
}

// fullFromRows is the build from scratch: every row decoded, then NewIndex.
func fullFromRows(rows []StoredService) (*Index, error) {
	services := make([]Service, len(rows))
	for i := range rows {
		if err := rows[i].decode(&services[i]); err != nil {
			return nil, err
		}
	}
	return NewIndex(services)
}

func errText(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// TestIncrementalIndexEqualsFullBuild is the property: after any sequence of changes, the index
// rebuilt from the last good one is the index built from scratch, and a build that fails fails
// with the same error; and only the changed documents are decoded and compiled.
func TestIncrementalIndexEqualsFullBuild(t *testing.T) {
	steps := 50
	if testing.Short() {
		steps = 15
	}
	for seed := range uint64(4) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			services := generateServices(20+int(seed)*10, seed)
			changer := NewDirectoryChanger(t, seed, services)
			rows := changer.Rows()
			prev, err := fullFromRows(rows) // not built from rows: the first incremental build compiles all
			if err != nil {
				t.Fatal(err)
			}
			built := map[string][]byte{} // the documents prev was built from
			failed, failures := false, 0
			for step := range steps {
				_, what := changer.Step(t, failed)
				rows = changer.Rows()
				want, wantErr := fullFromRows(rows)
				b, err := decodeStored(prev, rows)
				var got *Index
				if err == nil {
					got, err = b.build()
				}
				if errText(err) != errText(wantErr) {
					t.Fatalf("step %d (%v): incremental error\n%s\nwant\n%s", step, what, errText(err), errText(wantErr))
				}
				failed = err != nil
				if failed {
					failures++
					continue
				}
				if d := CompareIndexes(got, want, IndexQueries(got, want)); d != "" {
					t.Fatalf("step %d (%v): incremental index differs from a full build:\n%s", step, what, d)
				}
				{
					var changed []string
					for _, r := range rows {
						if string(built[r.ID]) != string(r.Document) {
							changed = append(changed, r.ID)
						}
					}
					var decoded []string
					for _, i := range b.changed {
						decoded = append(decoded, rows[i].ID)
					}
					if !slices.Equal(decoded, changed) {
						t.Fatalf("step %d (%v): decoded %v, want exactly the changed rows %v", step, what, decoded, changed)
					}
				}
				built = maps.Clone(changer.Docs())
				prev = got
			}
			t.Logf("%d of %d builds failed", failures, steps)
			if failures == 0 || failures == steps {
				t.Errorf("%d of %d builds failed: the changes should exercise both", failures, steps)
			}
		})
	}
}

// TestIncrementalIndexReusesCompiledServices: an unchanged document keeps the compiled service
// of the index before, so its catchment is not parsed again.
func TestIncrementalIndexReusesCompiledServices(t *testing.T) {
	changer := NewDirectoryChanger(t, 1, generateServices(30, 1))
	rows := changer.Rows()
	b, err := decodeStored(nil, rows)
	if err != nil {
		t.Fatal(err)
	}
	first, err := b.build()
	if err != nil {
		t.Fatal(err)
	}
	if len(b.changed) != len(rows) {
		t.Fatalf("first build decoded %d of %d rows", len(b.changed), len(rows))
	}
	var s Service
	if err := json.Unmarshal(rows[3].Document, &s); err != nil {
		t.Fatal(err)
	}
	s.Name = "Renamed"
	rows[3].Document = mustDocument(t, s)
	b, err = decodeStored(first, rows)
	if err != nil {
		t.Fatal(err)
	}
	second, err := b.build()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(b.changed, []int{3}) {
		t.Fatalf("decoded rows %v, want [3]", b.changed)
	}
	for i := range second.services {
		same := len(second.services[i].areas) > 0 && &second.services[i].areas[0] == &first.services[i].areas[0]
		if want := i != 3; same != want {
			t.Errorf("service %d shares its compiled areas with the index before: %v, want %v", i, same, want)
		}
	}
}

// storedRows50k is the generated 50,000-service directory as stored rows.
func storedRows50k(b *testing.B) []StoredService {
	b.Helper()
	services := generateServices(50000, 1)
	rows := make([]StoredService, len(services))
	for i, s := range services {
		rows[i] = StoredService{ID: s.key(), Document: mustDocument(b, s)}
	}
	slices.SortFunc(rows, func(x, y StoredService) int { return strings.Compare(x.ID, y.ID) })
	size := 0
	for _, r := range rows {
		size += len(r.Document)
	}
	b.Logf("%d documents, %.1f MB", len(rows), float64(size)/1e6)
	return rows
}

// changeTen renames ten services spread over the directory, as a small daily import would.
func changeTen(b *testing.B, rows []StoredService) []StoredService {
	b.Helper()
	out := slices.Clone(rows)
	for k := range 10 {
		i := k * len(out) / 10
		var s Service
		if err := json.Unmarshal(out[i].Document, &s); err != nil {
			b.Fatal(err)
		}
		s.Name += " (renamed)"
		out[i].Document = mustDocument(b, s)
	}
	return out
}

// BenchmarkRebuild50kChange10 rebuilds a 50,000-service directory after ten services changed:
// full is what CachedIndex did before (decode every row, NewIndex), incremental reuses the
// compiled form of the 49,990 unchanged documents.
func BenchmarkRebuild50kChange10(b *testing.B) {
	rows := storedRows50k(b)
	changed := changeTen(b, rows)
	b.Run("full", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := fullFromRows(changed); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("incremental", func(b *testing.B) {
		first, err := decodeStored(nil, rows)
		if err != nil {
			b.Fatal(err)
		}
		prev, err := first.build()
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			bs, err := decodeStored(prev, changed)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := bs.build(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
