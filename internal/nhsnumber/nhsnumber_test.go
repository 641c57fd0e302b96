package nhsnumber_test

import (
	"errors"
	"testing"

	"github.com/carepath/carepath/internal/nhsnumber"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		err      error
	}{
		{"9434765919", "9434765919", nil},
		{"943 476 5919", "9434765919", nil},
		{" 943-476-5919 ", "9434765919", nil},
		{"4010232137", "4010232137", nil},
		{"9434765918", "", nhsnumber.ErrChecksum}, // last digit mistyped
		{"9434765991", "", nhsnumber.ErrChecksum}, // two digits transposed
		{"1000000010", "", nhsnumber.ErrChecksum}, // check digit would be 10: never issued
		{"0000000000", "0000000000", nil},         // sum 0: check digit 11 means 0
		{"943476591", "", nhsnumber.ErrLength},
		{"94347659190", "", nhsnumber.ErrLength},
		{"94347659l9", "", nhsnumber.ErrDigits},
		{"", "", nhsnumber.ErrEmpty},
		{"   ", "", nhsnumber.ErrEmpty},
	} {
		got, err := nhsnumber.Parse(tc.in)
		if got != tc.want || !errors.Is(err, tc.err) {
			t.Errorf("Parse(%q) = %q, %v; want %q, %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"9434765919", "943 476 5919", "1000000010", "", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := nhsnumber.Parse(s)
		if err != nil {
			if got != "" {
				t.Fatalf("Parse(%q) returned %q with error %v", s, got, err)
			}
			return
		}
		if len(got) != 10 {
			t.Fatalf("Parse(%q) = %q: not ten digits", s, got)
		}
		if again, err := nhsnumber.Parse(got); err != nil || again != got {
			t.Fatalf("Parse(%q) = %q, but that does not parse to itself: %q, %v", s, got, again, err)
		}
	})
}
