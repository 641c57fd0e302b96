package directory

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/paulmach/orb"
)

// ReasonCode says why a service that delivers the pathway was not offered.
type ReasonCode string

// The rejection reasons, in the order Match checks them; a service carries the first that fails.
const (
	ReasonInactive    ReasonCode = "inactive"    // status inactive or defunct
	ReasonClosed      ReasonCode = "closed"      // temporarily closed, or no opening in the respond window
	ReasonOutOfArea   ReasonCode = "out_of_area" // no service area contains the subject
	ReasonAge         ReasonCode = "age"         // outside minimum_age..maximum_age
	ReasonEligibility ReasonCode = "eligibility" // carepath_eligibility false or not evaluable
	ReasonNoCapacity  ReasonCode = "no_capacity" // a capacity record has nothing available
)

// reasonOrder fixes the order codes appear in summaries.
func reasonOrder() [6]ReasonCode {
	return [6]ReasonCode{ReasonInactive, ReasonOutOfArea, ReasonAge, ReasonEligibility, ReasonNoCapacity, ReasonClosed}
}

// reasonIndex is the code's position in reasonOrder; a switch, because Match calls it for every
// rejected service.
func reasonIndex(code ReasonCode) int {
	switch code {
	case ReasonInactive:
		return 0
	case ReasonOutOfArea:
		return 1
	case ReasonAge:
		return 2
	case ReasonEligibility:
		return 3
	case ReasonNoCapacity:
		return 4
	case ReasonClosed:
		return 5
	}
	panic("directory: unknown reason code " + string(code))
}

// Age is a subject's age in whole years; the zero value is unknown, so forgetting to set it can
// never exclude anyone by age.
type Age struct {
	Years int
	Known bool
}

// YearsOld makes a known age.
func YearsOld(years int) Age { return Age{Years: years, Known: true} }

// Query is one request for services after the rules have chosen an outcome.
type Query struct {
	Pathway       string
	Priority      string // emergency, urgent or routine
	Flags         []string
	RespondWithin time.Duration // services must be open at some instant in [At, At+RespondWithin)
	Age           Age
	Postcode      string
	Lat, Lon      float64 // the subject's location, WGS84
	At            time.Time
	Loc           *time.Location // zone the schedules are written in; UTC when nil
	// Travel gives minutes from the subject to a location; routing owns it. Nil leaves travel
	// unknown and ranking falls to capacity and id.
	Travel          func(fromLat, fromLon, toLat, toLon float64) float64
	IncludeRejected bool
}

// Result is what Match found; it is stored in decision records, so it is plain JSON.
type Result struct {
	Pathway    string      `json:"pathway"`
	Candidates []Candidate `json:"candidates"`
	// Rejected lists, when asked, every service delivering the pathway that was not kept.
	Rejected []Rejection `json:"rejected,omitempty"`
	// RejectedCounts counts rejections by reason, always filled so an empty result explains itself.
	RejectedCounts map[ReasonCode]int `json:"rejected_counts,omitempty"`
	// Reason explains an empty result.
	Reason string `json:"reason,omitempty"`
}

// Candidate is a service kept for the subject, with why it was kept.
type Candidate struct {
	// ServiceID is the service's Code: the publisher's own code, or its HSDS id when it had none.
	ServiceID      string `json:"service_id"`
	ServiceName    string `json:"service_name"`
	OrganizationID string `json:"organization_id,omitempty"`
	// LocationID is the location nearest the subject by travel time, when any is known.
	LocationID    string   `json:"location_id,omitempty"`
	TravelMinutes *float64 `json:"travel_minutes,omitempty"`
	// Available is the smallest available capacity; nil means no capacity record (unlimited).
	Available *float64 `json:"available,omitempty"`
	// OpensAt is the first instant within the respond window at which the service is open.
	OpensAt time.Time `json:"opens_at"`
	Reasons []string  `json:"reasons"`
}

// Rejection is a service that delivers the pathway but was not offered.
type Rejection struct {
	ServiceID   string     `json:"service_id"`
	ServiceName string     `json:"service_name"`
	Reason      ReasonCode `json:"reason"`
	Detail      string     `json:"detail"`
}

// box is a bounding box laid out flat so the per-pathway scan stays in cache.
type box struct{ minLon, minLat, maxLon, maxLat float64 }

func (b *box) contains(lon, lat float64) bool {
	return lon >= b.minLon && lon <= b.maxLon && lat >= b.minLat && lat <= b.maxLat
}

// The status classes Match tells apart, stored one byte per member.
const (
	statusOpen uint8 = iota
	statusInactive
	statusClosed
)

// pathwayList holds the services delivering one pathway, sorted by id, with their boxes and
// status classes in parallel arrays.
type pathwayList struct {
	members []int32
	boxes   []box
	status  []uint8
}

// Index is an immutable, compiled services directory; it is safe for concurrent use.
type Index struct {
	services []compiledService // sorted by code
	byID     map[string]int    // HSDS id and code
	pathways map[string]*pathwayList
	// stored remembers, for an index built from stored documents, each row's document digest and
	// service, so that the next build compiles only the rows whose document changed.
	stored map[string]storedEntry
	seeds  *digestSeeds
}

// NewIndex validates and compiles services for matching: areas parsed with bounding boxes,
// schedules and eligibility expressions compiled once, and services grouped by pathway. Any
// problem Validate would report (bar unknown pathways) fails the build.
func NewIndex(services []Service) (*Index, error) {
	comp, err := newEligibilityCompiler()
	if err != nil {
		return nil, err
	}
	canon := make([]Service, len(services))
	for i, s := range services {
		canon[i] = canonical(s)
	}
	compiled, problems := compileServices(canon, nil, comp)
	if len(problems) > 0 {
		return nil, fmt.Errorf("directory: unable to build index: %w", &ValidationError{Problems: problems})
	}
	return assemble(compiled), nil
}

// assemble sorts compiled services by code and builds the lookups and pathway lists; it is the
// whole of an index build apart from compiling, shared by NewIndex and the incremental rebuild so
// that both order and group services the same way.
func assemble(compiled []compiledService) *Index {
	slices.SortFunc(compiled, func(a, b compiledService) int { return strings.Compare(a.svc.key(), b.svc.key()) })
	ix := &Index{
		services: compiled,
		byID:     make(map[string]int, 2*len(compiled)),
		pathways: map[string]*pathwayList{},
	}
	for i := range compiled {
		cs := &compiled[i]
		ix.byID[cs.svc.ID] = i
		ix.byID[cs.svc.key()] = i
		b := box{cs.bound.Min.Lon(), cs.bound.Min.Lat(), cs.bound.Max.Lon(), cs.bound.Max.Lat()}
		for _, p := range cs.pathways {
			pl := ix.pathways[p]
			if pl == nil {
				pl = &pathwayList{}
				ix.pathways[p] = pl
			}
			pl.members = append(pl.members, int32(i))
			pl.boxes = append(pl.boxes, b)
			pl.status = append(pl.status, statusClass(cs.status))
		}
	}
	return ix
}

func statusClass(status string) uint8 {
	switch status {
	case StatusInactive, StatusDefunct:
		return statusInactive
	case StatusTemporarilyClosed:
		return statusClosed
	}
	return statusOpen
}

// Len is the number of services in the index.
func (ix *Index) Len() int { return len(ix.services) }

// Service returns the service with the given HSDS id or code, for GET /services/{id}; its nested
// lists are the index's own, so callers must treat it as read-only.
func (ix *Index) Service(id string) (Service, bool) {
	i, ok := ix.byID[id]
	if !ok {
		return Service{}, false
	}
	return ix.services[i].svc, true
}

// Services returns every service sorted by code, read-only like Service.
func (ix *Index) Services() []Service {
	out := make([]Service, len(ix.services))
	for i := range ix.services {
		out[i] = ix.services[i].svc
	}
	return out
}

// Pathways returns the pathway ids at least one service delivers, sorted.
func (ix *Index) Pathways() []string {
	out := make([]string, 0, len(ix.pathways))
	for p := range ix.pathways {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// kept is a service that passed every check, with what ranking and explaining it needs; the
// Candidate itself is built only after ranking, in one allocation for all of them.
type kept struct {
	service   *compiledService
	areaIdx   int
	location  int // index into service.points of the nearest location, -1 when unknown
	opensAt   time.Time
	travel    float64 // +Inf when unknown
	available float64 // +Inf when unlimited
}

// Match names the services that can deliver q's pathway to the subject, nearest first. Finding
// none is a normal outcome, explained in Result.Reason and RejectedCounts.
func (ix *Index) Match(q Query) Result {
	res := Result{Pathway: q.Pathway, Candidates: []Candidate{}}
	pl := ix.pathways[q.Pathway]
	if pl == nil {
		res.Reason = fmt.Sprintf("no service in the directory delivers pathway %q", q.Pathway)
		return res
	}
	m := matcher{ix: ix, q: &q, loc: q.Loc, res: &res}
	if m.loc == nil {
		m.loc = time.UTC
	}
	m.to = q.At.Add(q.RespondWithin)
	if q.IncludeRejected {
		res.Rejected = make([]Rejection, 0, len(pl.members))
	}
	pt := orb.Point{q.Lon, q.Lat}

	// The status and box checks read only the list's flat arrays; a service's full record is
	// touched only when it is near enough to matter or a rejection must be written out.
	for i, member := range pl.members {
		switch pl.status[i] {
		case statusInactive:
			m.reject(member, ReasonInactive, func(cs *compiledService) string {
				if cs.status == StatusDefunct {
					return "status is defunct"
				}
				return "status is inactive"
			})
			continue
		case statusClosed:
			m.reject(member, ReasonClosed, func(*compiledService) string { return "status is temporarily closed" })
			continue
		}
		if !pl.boxes[i].contains(q.Lon, q.Lat) {
			m.reject(member, ReasonOutOfArea, func(cs *compiledService) string { return cs.outOfArea })
			continue
		}
		m.consider(member, pt)
	}

	m.finish()
	if len(res.Candidates) == 0 {
		var parts []string
		for i, code := range reasonOrder() {
			if m.counts[i] > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", m.counts[i], code))
			}
		}
		res.Reason = fmt.Sprintf("none of the %d service(s) delivering pathway %q can take this case: %s",
			len(pl.members), q.Pathway, strings.Join(parts, ", "))
	}
	return res
}

// matcher is the state of one Match call.
type matcher struct {
	ix     *Index
	q      *Query
	loc    *time.Location
	to     time.Time
	res    *Result
	vars   *subjectVars // built on first use: most services have no expression
	counts [6]int
	kept   []kept
}

// reject counts a rejection and, when asked, records it; detail is only formatted then.
func (m *matcher) reject(member int32, code ReasonCode, detail func(*compiledService) string) {
	m.counts[reasonIndex(code)]++
	if m.q.IncludeRejected {
		cs := &m.ix.services[member]
		m.res.Rejected = append(m.res.Rejected, Rejection{ServiceID: cs.svc.key(), ServiceName: cs.svc.Name, Reason: code, Detail: detail(cs)})
	}
}

// consider runs the checks after the bounding box: exact area, age, eligibility, capacity and
// opening, in that order, and keeps the service if all pass.
func (m *matcher) consider(member int32, pt orb.Point) {
	cs := &m.ix.services[member]
	q := m.q
	areaIdx := -1
	for ai := range cs.areas {
		if cs.areas[ai].contains(pt) {
			areaIdx = ai
			break
		}
	}
	if len(cs.areas) > 0 && areaIdx < 0 {
		m.reject(member, ReasonOutOfArea, func(cs *compiledService) string { return cs.outOfArea })
		return
	}
	if q.Age.Known && (float64(q.Age.Years) < cs.minAge || float64(q.Age.Years) > cs.maxAge) {
		m.reject(member, ReasonAge, func(cs *compiledService) string {
			return fmt.Sprintf("age %d is outside %s", q.Age.Years, ageRange(cs.svc.MinimumAge, cs.svc.MaximumAge))
		})
		return
	}
	if cs.eligibility != nil {
		if m.vars == nil {
			m.vars = newSubjectVars(q)
		}
		ok, err := evalEligibility(cs.eligibility, m.vars)
		if err != nil {
			m.reject(member, ReasonEligibility, func(cs *compiledService) string {
				return fmt.Sprintf("cannot evaluate eligibility %q: %v", cs.svc.CarepathEligibility, err)
			})
			return
		}
		if !ok {
			m.reject(member, ReasonEligibility, func(cs *compiledService) string {
				return "does not meet eligibility: " + cs.svc.CarepathEligibility
			})
			return
		}
	}
	if cs.limited && cs.available <= 0 {
		m.reject(member, ReasonNoCapacity, func(cs *compiledService) string {
			return "no capacity available (" + formatNumber(cs.available) + ")"
		})
		return
	}
	opensAt, open := firstOpening(cs.schedules, cs.hasSchedules, q.At, m.to, m.loc)
	if !open {
		m.reject(member, ReasonClosed, func(*compiledService) string {
			return fmt.Sprintf("not open between %s and %s", q.At.In(m.loc).Format(time.RFC3339), m.to.In(m.loc).Format(time.RFC3339))
		})
		return
	}
	m.keep(cs, areaIdx, opensAt.In(m.loc))
}

// keep records a service that passed every check.
func (m *matcher) keep(cs *compiledService, areaIdx int, opensAt time.Time) {
	q := m.q
	k := kept{service: cs, areaIdx: areaIdx, location: -1, opensAt: opensAt, travel: math.Inf(1), available: math.Inf(1)}
	if q.Travel != nil {
		for i, p := range cs.points {
			// Strictly less keeps the first location (by id) on ties.
			if t := q.Travel(q.Lat, q.Lon, p.point.Lat(), p.point.Lon()); t < k.travel {
				k.travel, k.location = t, i
			}
		}
	}
	if cs.limited {
		k.available = cs.available
	}
	if m.kept == nil {
		m.kept = make([]kept, 0, 64)
	}
	m.kept = append(m.kept, k)
}

// reasonsPerCandidate is the most reasons explain writes for one candidate.
const reasonsPerCandidate = 6

// finish ranks the kept services by travel time (unknown last), then available capacity
// (unlimited first, more first), then code, so equal inputs always rank the same; then it builds
// the candidates and fills the counts.
func (m *matcher) finish() {
	slices.SortFunc(m.kept, func(a, b kept) int {
		if c := cmp.Compare(a.travel, b.travel); c != 0 {
			return c
		}
		if c := cmp.Compare(b.available, a.available); c != 0 {
			return c
		}
		return strings.Compare(a.service.svc.key(), b.service.svc.key())
	})
	if len(m.kept) > 0 {
		cands := make([]Candidate, len(m.kept))
		reasons := make([]string, 0, len(m.kept)*reasonsPerCandidate)
		for i := range m.kept {
			k := &m.kept[i]
			cs := k.service
			c := &cands[i]
			c.ServiceID, c.ServiceName, c.OrganizationID, c.OpensAt = cs.svc.key(), cs.svc.Name, cs.svc.organizationID(), k.opensAt
			if k.location >= 0 {
				c.LocationID, c.TravelMinutes = cs.points[k.location].id, &k.travel
			}
			if cs.limited {
				c.Available = &k.available
			}
			from := len(reasons)
			reasons = m.explain(reasons, k)
			c.Reasons = reasons[from:len(reasons):len(reasons)]
		}
		m.res.Candidates = cands
	}
	for i, code := range reasonOrder() {
		if m.counts[i] > 0 {
			if m.res.RejectedCounts == nil {
				m.res.RejectedCounts = map[ReasonCode]int{}
			}
			m.res.RejectedCounts[code] = m.counts[i]
		}
	}
}

// explain appends why k was kept, mostly from strings prepared when the index was built.
func (m *matcher) explain(reasons []string, k *kept) []string {
	cs := k.service
	reasons = append(reasons, "active")
	if k.areaIdx >= 0 {
		reasons = append(reasons, cs.areaReason[k.areaIdx])
	} else {
		reasons = append(reasons, "no service area: covers everywhere")
	}
	if m.q.Age.Known {
		reasons = append(reasons, cs.ageReason)
	} else {
		reasons = append(reasons, cs.ageUnknown)
	}
	if cs.eligibleReason != "" {
		reasons = append(reasons, cs.eligibleReason)
	}
	reasons = append(reasons, cs.capacityReason)
	switch {
	case !cs.hasSchedules:
		reasons = append(reasons, "no schedule: always open")
	case k.opensAt.Equal(m.q.At):
		reasons = append(reasons, "open at decision time")
	default:
		reasons = append(reasons, "opens "+k.opensAt.Format("Mon 2 Jan 15:04")+" within the respond window")
	}
	return reasons
}
