package privacy_test

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/carepath/carepath/failure"
	"github.com/carepath/carepath/privacy"
)

var (
	keyA = bytes.Repeat([]byte{0xa5}, 32)
	keyB = bytes.Repeat([]byte{0x5a}, 32)
)

func mustNew(t *testing.T, key []byte) *privacy.Pseudonymiser {
	t.Helper()
	p, err := privacy.New(key)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestNewRefusesShortKeys(t *testing.T) {
	for _, tc := range []struct {
		n  int
		ok bool
	}{{0, false}, {16, false}, {31, false}, {32, true}, {64, true}} {
		_, err := privacy.New(make([]byte, tc.n))
		if (err == nil) != tc.ok {
			t.Errorf("New(%d bytes): %v, want ok %v", tc.n, err, tc.ok)
		}
		if err != nil && (failure.CodeOf(err) != failure.Invalid || !strings.Contains(err.Error(), "at least 32")) {
			t.Errorf("New(%d bytes): %v, want an invalid error naming the minimum", tc.n, err)
		}
	}
}

func TestNewCopiesTheKey(t *testing.T) {
	key := bytes.Clone(keyA)
	p := mustNew(t, key)
	before := p.Subject("demo-0001")
	key[0] ^= 0xff
	if after := p.Subject("demo-0001"); after != before {
		t.Errorf("changing the caller's slice changed the pseudonym: %s -> %s", before, after)
	}
}

var subjectShape = regexp.MustCompile(`^psn_[0-9a-f]{24}$`)
var caseShape = regexp.MustCompile(`^case_[0-9a-f]{24}$`)

func TestPseudonyms(t *testing.T) {
	a, b := mustNew(t, keyA), mustNew(t, keyB)
	refs := []string{"demo-0001", "demo-0002", "9434765919", "syn-5-1", "syn-5-10", " demo-0001", "DEMO-0001"}
	seen := map[string]string{}
	for _, ref := range refs {
		s := a.Subject(ref)
		if !subjectShape.MatchString(s) {
			t.Errorf("Subject(%q) = %q, want psn_ and 24 hex digits", ref, s)
		}
		if strings.Contains(s, ref) {
			t.Errorf("Subject(%q) = %q contains the reference", ref, s)
		}
		if again := mustNew(t, keyA).Subject(ref); again != s {
			t.Errorf("Subject(%q) is not stable under the same key: %s, %s", ref, s, again)
		}
		if other := b.Subject(ref); other == s {
			t.Errorf("Subject(%q) is the same under another key", ref)
		}
		if prev, dup := seen[s]; dup {
			t.Errorf("Subject(%q) = Subject(%q) = %s", ref, prev, s)
		}
		seen[s] = ref
		c := a.Case(ref)
		if !caseShape.MatchString(c) {
			t.Errorf("Case(%q) = %q, want case_ and 24 hex digits", ref, c)
		}
		if strings.TrimPrefix(c, privacy.CasePrefix) == strings.TrimPrefix(s, privacy.SubjectPrefix) {
			t.Errorf("Case and Subject of %q share a digest", ref)
		}
	}
	if a.Subject("") != "" || a.Case("") != "" {
		t.Error("an empty reference has a pseudonym")
	}
}

func TestAgeBand(t *testing.T) {
	at := time.Date(2026, 11, 20, 10, 15, 0, 0, time.UTC)
	date := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }
	for _, tc := range []struct {
		birth time.Time
		want  string
	}{
		{date(2026, 11, 20), "0-17"},
		{date(2008, 11, 21), "0-17"}, // 17 until tomorrow
		{date(2008, 11, 20), "18-24"},
		{date(2002, 1, 1), "18-24"},
		{date(2001, 11, 20), "25-34"},
		{date(1988, 4, 12), "35-44"},
		{date(1981, 11, 21), "35-44"}, // 44 for one more day
		{date(1981, 11, 20), "45-54"},
		{date(1962, 6, 1), "55-64"},
		{date(1961, 11, 20), "65-74"},
		{date(1942, 11, 21), "75-84"},
		{date(1941, 11, 20), "85+"},
		{date(1920, 1, 1), "85+"},
		{date(2026, 11, 21), "unknown"}, // born after the assessment
		{time.Time{}, "unknown"},
	} {
		if got := privacy.AgeBand(tc.birth, at); got != tc.want {
			t.Errorf("AgeBand(%s) = %q, want %q", tc.birth.Format(time.DateOnly), got, tc.want)
		}
	}
	// A leap-day birth is a year older on 1 March in a common year.
	if got := privacy.AgeBand(date(2008, 2, 29), date(2026, 2, 28)); got != "0-17" {
		t.Errorf("leap day, day before: %s", got)
	}
	if got := privacy.AgeBand(date(2008, 2, 29), date(2026, 3, 1)); got != "18-24" {
		t.Errorf("leap day, 1 March: %s", got)
	}
}

func TestBandOfAge(t *testing.T) {
	want := map[int]string{-1: "unknown", 0: "0-17", 17: "0-17", 18: "18-24", 24: "18-24", 25: "25-34", 34: "25-34",
		35: "35-44", 44: "35-44", 45: "45-54", 55: "55-64", 64: "55-64", 65: "65-74", 74: "65-74", 75: "75-84", 84: "75-84",
		85: "85+", 120: "85+"}
	for age, band := range want {
		if got := privacy.BandOfAge(age); got != band {
			t.Errorf("BandOfAge(%d) = %q, want %q", age, got, band)
		}
	}
}

func TestPostcodeDistrict(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"LS1 4AP", "LS1"},
		{"LS14AP", "LS1"},
		{"ls1 4ap", "LS1"},
		{"  LS1   4AP\n", "LS1"},
		{"NG7 2RD", "NG7"},
		{"NG11 8NS", "NG11"},
		{"NG118NS", "NG11"},
		{"M1 1AE", "M1"},
		{"M11AE", "M1"},
		{"B33 8TH", "B33"},
		{"CR2 6XH", "CR2"},
		{"DN55 1PT", "DN55"},
		{"W1A 0AX", "W1A"},
		{"w1a0ax", "W1A"},
		{"EC1A 1BB", "EC1A"},
		{"SW1A1AA", "SW1A"},
		{"GIR 0AA", "GIR"},
		{"NG7", "NG7"}, // already a district
		{"ec1a", "EC1A"},
		{"", ""},
		{"   ", ""},
		{"LS1 4", ""},    // a sector, not district LS14
		{"LS1 4APX", ""}, // too long an inward code
		{"LS1 4A P", ""},
		{"1LS 4AP", ""},
		{"LS 4AP", ""},
		{"LSS1 4AP", ""},
		{"LS1-4AP", ""},
		{"LS1 4ÄP", ""},
		{"12345", ""},
		{"ABCDEFGHIJ", ""},
		{"LS1\u00a04AP", ""},
		{"10 Downing Street", ""},
	} {
		if got := privacy.PostcodeDistrict(tc.in); got != tc.want {
			t.Errorf("PostcodeDistrict(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

var districtShape = regexp.MustCompile(`^([A-Z][0-9][0-9A-Z]?|[A-Z]{2}[0-9][0-9A-Z]?|GIR)$`)

func FuzzPostcodeDistrict(f *testing.F) {
	for _, s := range []string{"LS1 4AP", "ls14ap", "NG11 8NS", "W1A 0AX", "GIR 0AA", "NG7", "LS1 4", "", " \t", "EC1A1BB", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		d := privacy.PostcodeDistrict(in)
		if d == "" {
			return
		}
		if !districtShape.MatchString(d) {
			t.Fatalf("PostcodeDistrict(%q) = %q, not an outward code", in, d)
		}
		// The district is the start of the input once spaces are gone and letters upper-cased,
		// and at least three characters of a full postcode (the inward code) are dropped.
		compact := strings.ToUpper(strings.Join(strings.Fields(in), ""))
		if !strings.HasPrefix(compact, d) || len(compact) != len(d) && len(compact) != len(d)+3 {
			t.Fatalf("PostcodeDistrict(%q) = %q, not the outward code of %q", in, d, compact)
		}
		if again := privacy.PostcodeDistrict(d); again != d {
			t.Fatalf("PostcodeDistrict(%q) = %q, but PostcodeDistrict(%q) = %q", in, d, d, again)
		}
	})
}

func writeFile(t *testing.T, data string, mode os.FileMode) string {
	t.Helper()
	name := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(name, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
	return name
}

func TestLoadKey(t *testing.T) {
	hex64 := strings.Repeat("a5", 32)
	raw := string(bytes.Repeat([]byte{0x00, 0xff, 'z', '\n'}, 9)) // 36 bytes, not hex
	for _, tc := range []struct {
		name, data string
		want       []byte
		err        string
	}{
		{"hex", hex64, keyA, ""},
		{"hex with newline", hex64 + "\n", keyA, ""},
		{"hex upper case, spaces around", "  " + strings.ToUpper(hex64) + " \r\n", keyA, ""},
		{"long hex", hex64 + hex64, bytes.Repeat([]byte{0xa5}, 64), ""},
		{"raw", raw, []byte(raw), ""},
		{"short hex", strings.Repeat("ab", 31), nil, "is 31 bytes"},
		{"odd hex", hex64 + "a", nil, "odd number"},
		{"short raw", "not a key, too short", nil, "at least 32"},
		{"empty", "", nil, "is 0 bytes"},
		{"too large", strings.Repeat("x", 5000), nil, "larger than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := privacy.LoadKey(writeFile(t, tc.data, 0o600))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || failure.CodeOf(err) != failure.Invalid {
					t.Fatalf("LoadKey: %v, want an invalid error containing %q", err, tc.err)
				}
				return
			}
			if err != nil || !bytes.Equal(got, tc.want) {
				t.Fatalf("LoadKey = %x, %v; want %x", got, err, tc.want)
			}
		})
	}
	if _, err := privacy.LoadKey(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func TestCreateKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config", "carepath", "pseudonym.key")
	key, err := privacy.CreateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(key) != 32 || bytes.Equal(key, make([]byte, 32)) {
		t.Fatalf("key %x", key)
	}
	if runtime.GOOS != "windows" {
		st, err := os.Stat(path)
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("key file mode %v, %v; want 0600", st.Mode().Perm(), err)
		}
		if st, err := os.Stat(filepath.Dir(path)); err != nil || st.Mode().Perm() != 0o700 {
			t.Errorf("key directory mode %v, %v; want 0700", st.Mode().Perm(), err)
		}
	}
	if loaded, err := privacy.LoadKey(path); err != nil || !bytes.Equal(loaded, key) {
		t.Errorf("LoadKey of the created file = %x, %v", loaded, err)
	}
	again, err := privacy.CreateKeyFile(path)
	if err != nil || !bytes.Equal(again, key) {
		t.Errorf("a second CreateKeyFile replaced the key: %x, %v", again, err)
	}
	if other, err := privacy.CreateKeyFile(filepath.Join(t.TempDir(), "pseudonym.key")); err != nil || bytes.Equal(other, key) {
		t.Errorf("two new key files share a key: %v", err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}

	// An existing file is never replaced, even a bad one.
	bad := writeFile(t, "short", 0o600)
	if _, err := privacy.CreateKeyFile(bad); err == nil || failure.CodeOf(err) != failure.Invalid {
		t.Errorf("CreateKeyFile over a bad key file: %v", err)
	}
	if b, _ := os.ReadFile(bad); string(b) != "short" {
		t.Errorf("bad key file rewritten: %q", b)
	}
}

func TestCreateKeyFileConcurrently(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pseudonym.key")
	const n = 8
	keys := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			keys[i], errs[i] = privacy.CreateKeyFile(path)
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || !bytes.Equal(keys[i], keys[0]) {
			t.Errorf("caller %d: %x, %v; caller 0: %x", i, keys[i], errs[i], keys[0])
		}
	}
}
