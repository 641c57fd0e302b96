// Package privacy turns what identifies a person into what an analyst may see: a keyed, stable
// pseudonym instead of the subject reference, an age band instead of a birth date, and a postcode
// district instead of a postcode.
//
// Pseudonyms are HMAC-SHA-256 under a key that belongs to the deployment, never to the data: with
// the database alone nobody can link a pseudonym back to a person, and subject references such as
// NHS numbers (ten digits with a check digit) are too few to hide behind an unkeyed hash. The same
// key always gives the same pseudonym, so analysts can follow a person or a case across reports;
// a new key gives every person a new pseudonym. Back the key file up with the deployment's other
// secrets and never store it in the database or next to its backups.
package privacy

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"

	"github.com/carepath/carepath/failure"
)

// MinKeyBytes is the shortest key accepted: as long as the HMAC-SHA-256 output, so the key is
// never the weaker part.
const MinKeyBytes = 32

// pseudonymBytes is how much of the HMAC a pseudonym keeps: 96 bits, so two of ten million
// subjects share a pseudonym with odds below one in a billion, in 24 hex digits.
const pseudonymBytes = 12

// Prefixes of the pseudonyms, so a reader can tell a person from a case and neither from a real id.
const (
	SubjectPrefix = "psn_"
	CasePrefix    = "case_"
)

// Pseudonymiser makes keyed pseudonyms; it is safe for concurrent use.
type Pseudonymiser struct {
	key []byte
}

// New returns a Pseudonymiser over a copy of key, which must be at least MinKeyBytes long.
func New(key []byte) (*Pseudonymiser, error) {
	if len(key) < MinKeyBytes {
		return nil, failure.Errorf(failure.Invalid, "pseudonym key: is %d bytes; at least %d are needed", len(key), MinKeyBytes)
	}
	return &Pseudonymiser{key: append([]byte(nil), key...)}, nil
}

// Subject is the pseudonym of a subject reference, such as "psn_3f9c…", or "" for an empty reference.
// The reference is taken exactly as stored, because references are opaque identifiers.
func (p *Pseudonymiser) Subject(ref string) string {
	return p.pseudonym(SubjectPrefix, "subject", ref)
}

// Case is the pseudonym of a decision id, such as "case_81d2…", or "" for an empty id. A decision id
// is not personal in itself, but anyone who may read decisions can follow it to the person.
func (p *Pseudonymiser) Case(decisionID string) string {
	return p.pseudonym(CasePrefix, "case", decisionID)
}

// pseudonym separates the kinds of value by a label in the MAC input, so a subject reference that
// happens to equal a decision id does not get the same pseudonym.
func (p *Pseudonymiser) pseudonym(prefix, label, value string) string {
	if value == "" {
		return ""
	}
	mac := hmac.New(sha256.New, p.key)
	mac.Write([]byte(label))
	mac.Write([]byte{0})
	mac.Write([]byte(value))
	var sum [sha256.Size]byte
	b := mac.Sum(sum[:0])
	out := make([]byte, len(prefix)+2*pseudonymBytes)
	copy(out, prefix)
	hex.Encode(out[len(prefix):], b[:pseudonymBytes])
	return string(out)
}

// UnknownAgeBand is the band of a person whose age is not known.
const UnknownAgeBand = "unknown"

// AgeBand is the age band of a person born on birth at the instant at: "0-17", "18-24", then
// ten-year bands "25-34" … "75-84", and "85+"; UnknownAgeBand when birth is zero or after at.
// Both are read as calendar dates in their own locations, so a birth date parsed as midnight UTC
// compares by day.
func AgeBand(birth, at time.Time) string {
	if birth.IsZero() {
		return UnknownAgeBand
	}
	by, bm, bd := birth.Date()
	ay, am, ad := at.Date()
	age := ay - by
	if am < bm || am == bm && ad < bd {
		age--
	}
	return BandOfAge(age)
}

// BandOfAge is the band of an age in whole years, for subjects whose age is stated rather than
// derived from a birth date; UnknownAgeBand when age is negative.
//
// The bands are those of ONS population estimates by broad age group (ten-year bands from 25, with
// 85 and over as the top band), with 18-24 as the first adult band as in the ONS analysis of the
// use of NHS Talking Therapies (formerly IAPT) services, which are for adults; so counts can be
// set beside published figures and population denominators.
func BandOfAge(age int) string {
	switch {
	case age < 0:
		return UnknownAgeBand
	case age < 18:
		return "0-17"
	case age < 25:
		return "18-24"
	case age >= 85:
		return "85+"
	}
	lo := (age-25)/10*10 + 25
	return strconv.Itoa(lo) + "-" + strconv.Itoa(lo+9)
}
