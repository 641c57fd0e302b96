package directory

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// onspdNoGrid is the latitude ONSPD gives postcodes without a grid reference.
const onspdNoGrid = 99.999999

// Gazetteer resolves UK postcodes to coordinates and local authority, from ONSPD-shaped data.
type Gazetteer struct {
	// entries is keyed by the compact postcode packed into eight bytes, which keeps the full
	// 2.7 million-row ONSPD to tens of megabytes.
	entries     map[uint64]gazetteerEntry
	authorities []string
}

// gazetteerEntry stores micro-degrees: exact for ONSPD's six decimals and half the size.
type gazetteerEntry struct {
	lat, lon  int32
	authority uint16
}

// ParseGazetteer reads a CSV with a header row holding at least the ONSPD columns pcds, lat,
// long and oslaua, in any order; other columns are ignored. Rows without a grid reference (blank
// coordinates, or ONSPD's 99.999999 latitude) are skipped, since they cannot place anyone.
func ParseGazetteer(r io.Reader) (*Gazetteer, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("directory: unable to read gazetteer header: %w", err)
	}
	col := map[string]int{"pcds": -1, "lat": -1, "long": -1, "oslaua": -1}
	for i, name := range header {
		name = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(name, "\ufeff")))
		if j, ok := col[name]; ok && j < 0 {
			col[name] = i
		}
	}
	for _, name := range []string{"pcds", "lat", "long", "oslaua"} {
		if col[name] < 0 {
			return nil, fmt.Errorf("directory: unable to parse gazetteer: header lacks column %q", name)
		}
	}
	g := &Gazetteer{entries: map[uint64]gazetteerEntry{}}
	authorityIndex := map[string]uint16{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("directory: unable to parse gazetteer: %w", err)
		}
		line, _ := cr.FieldPos(0)
		bad := func(field, reason string) error {
			return fmt.Errorf("directory: unable to parse gazetteer line %d field %s: %s", line, field, reason)
		}
		pcds := rec[col["pcds"]]
		key, ok := postcodeKey(pcds)
		if !ok {
			return nil, bad("pcds", fmt.Sprintf("%q is not a postcode", pcds))
		}
		latText, lonText := strings.TrimSpace(rec[col["lat"]]), strings.TrimSpace(rec[col["long"]])
		if latText == "" || lonText == "" {
			continue
		}
		lat, err := strconv.ParseFloat(latText, 64)
		if err != nil || math.IsNaN(lat) {
			return nil, bad("lat", fmt.Sprintf("%q is not a number", latText))
		}
		if lat == onspdNoGrid {
			continue
		}
		lon, err := strconv.ParseFloat(lonText, 64)
		if err != nil || math.IsNaN(lon) {
			return nil, bad("long", fmt.Sprintf("%q is not a number", lonText))
		}
		if lat < -90 || lat > 90 {
			return nil, bad("lat", fmt.Sprintf("%g out of range -90..90", lat))
		}
		if lon < -180 || lon > 180 {
			return nil, bad("long", fmt.Sprintf("%g out of range -180..180", lon))
		}
		if _, dup := g.entries[key]; dup {
			return nil, bad("pcds", fmt.Sprintf("duplicate postcode %q", pcds))
		}
		la := strings.TrimSpace(rec[col["oslaua"]])
		ai, seen := authorityIndex[la]
		if !seen {
			if len(g.authorities) > math.MaxUint16 {
				return nil, bad("oslaua", "too many distinct local authorities")
			}
			ai = uint16(len(g.authorities))
			authorityIndex[la] = ai
			g.authorities = append(g.authorities, la)
		}
		g.entries[key] = gazetteerEntry{
			lat:       int32(math.Round(lat * 1e6)),
			lon:       int32(math.Round(lon * 1e6)),
			authority: ai,
		}
	}
	return g, nil
}

// Len is the number of postcodes with coordinates.
func (g *Gazetteer) Len() int { return len(g.entries) }

// Lookup returns a postcode's WGS84 coordinates; spacing and case do not matter.
func (g *Gazetteer) Lookup(postcode string) (lat, lon float64, ok bool) {
	key, ok := postcodeKey(postcode)
	if !ok {
		return 0, 0, false
	}
	e, ok := g.entries[key]
	if !ok {
		return 0, 0, false
	}
	return float64(e.lat) / 1e6, float64(e.lon) / 1e6, true
}

// LocalAuthority returns the ONS code of the local authority (oslaua) a postcode lies in.
func (g *Gazetteer) LocalAuthority(postcode string) (string, bool) {
	key, ok := postcodeKey(postcode)
	if !ok {
		return "", false
	}
	e, ok := g.entries[key]
	if !ok {
		return "", false
	}
	return g.authorities[e.authority], true
}

// NormalizePostcode writes a postcode in its canonical form ("ls1 4ap" becomes "LS1 4AP"); ok is
// false when it cannot be a UK postcode.
func NormalizePostcode(postcode string) (string, bool) {
	compact, ok := compactPostcode(postcode)
	if !ok {
		return "", false
	}
	return compact[:len(compact)-3] + " " + compact[len(compact)-3:], true
}

// compactPostcode drops whitespace and upper-cases; UK postcodes are 5 to 7 letters and digits.
func compactPostcode(postcode string) (string, bool) {
	var b [7]byte
	n := 0
	for i := 0; i < len(postcode); i++ {
		c := postcode[i]
		switch {
		case c == ' ' || c == '\t':
			continue
		case c >= 'a' && c <= 'z':
			c -= 'a' - 'A'
		case c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		default:
			return "", false
		}
		if n == len(b) {
			return "", false
		}
		b[n] = c
		n++
	}
	if n < 5 {
		return "", false
	}
	return string(b[:n]), true
}

// postcodeKey packs the compact postcode into a map key without allocating.
func postcodeKey(postcode string) (uint64, bool) {
	var key uint64
	n := 0
	for i := 0; i < len(postcode); i++ {
		c := postcode[i]
		switch {
		case c == ' ' || c == '\t':
			continue
		case c >= 'a' && c <= 'z':
			c -= 'a' - 'A'
		case c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		default:
			return 0, false
		}
		if n == 7 {
			return 0, false
		}
		key = key<<8 | uint64(c)
		n++
	}
	return key, n >= 5
}
