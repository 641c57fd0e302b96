package directory

import (
	"bytes"
	"strings"
	"testing"
)

const onspdSample = "pcd,pcd2,pcds,dointr,oslaua,osward,lat,long\n" +
	"LS1  5HD,LS1  5HD,LS1 5HD,199801,E08000035,E05011414,53.799700,-1.549200\n" +
	"BD1  1AA,BD1  1AA,BD1 1AA,198001,E08000032,E05001365,53.794979,-1.753340\n" +
	"YO1  7HH,YO1  7HH,YO1 7HH,198001,E06000014,E05001763,53.962345,-1.081721\n" +
	"ZZ9  9ZZ,ZZ9  9ZZ,ZZ9 9ZZ,198001,,,99.999999,0.000000\n" +
	"LS99 9ZZ,LS99 9ZZ,LS99 9ZZ,198001,E08000035,,,\n"

func TestGazetteerLookup(t *testing.T) {
	g, err := ParseGazetteer(strings.NewReader(onspdSample))
	if err != nil {
		t.Fatal(err)
	}
	if g.Len() != 3 {
		t.Errorf("Len() = %d, want 3 (rows without a grid reference skipped)", g.Len())
	}
	tests := []struct {
		postcode  string
		lat, lon  float64
		authority string
		wantOK    bool
	}{
		{"LS1 5HD", 53.7997, -1.5492, "E08000035", true},
		{"ls15hd", 53.7997, -1.5492, "E08000035", true},
		{"  Ls1   5hD ", 53.7997, -1.5492, "E08000035", true},
		{"BD1 1AA", 53.794979, -1.75334, "E08000032", true},
		{"YO17HH", 53.962345, -1.081721, "E06000014", true},
		{"ZZ9 9ZZ", 0, 0, "", false},
		{"LS99 9ZZ", 0, 0, "", false},
		{"LS1 5HE", 0, 0, "", false},
		{"LS1-5HD", 0, 0, "", false},
		{"", 0, 0, "", false},
		{"LS1 5HDXX", 0, 0, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.postcode, func(t *testing.T) {
			lat, lon, ok := g.Lookup(tc.postcode)
			if ok != tc.wantOK || lat != tc.lat || lon != tc.lon {
				t.Errorf("Lookup = %v, %v, %v; want %v, %v, %v", lat, lon, ok, tc.lat, tc.lon, tc.wantOK)
			}
			la, ok := g.LocalAuthority(tc.postcode)
			if ok != tc.wantOK || la != tc.authority {
				t.Errorf("LocalAuthority = %q, %v; want %q", la, ok, tc.authority)
			}
		})
	}
}

func TestParseGazetteerErrors(t *testing.T) {
	tests := []struct {
		name, input, wantErr string
	}{
		{"empty", "", "unable to read gazetteer header"},
		{"missing column", "pcds,lat,oslaua\nLS1 5HD,53.8,E08000035\n", `header lacks column "long"`},
		{"bad latitude", "pcds,lat,long,oslaua\nLS1 5HD,53.8,-1.5,E1\nLS2 7EW,north,-1.5,E1\n", "line 3 field lat"},
		{"latitude out of range", "pcds,lat,long,oslaua\nLS1 5HD,95,-1.5,E1\n", "line 2 field lat: 95 out of range"},
		{"longitude out of range", "pcds,lat,long,oslaua\nLS1 5HD,53,-181,E1\n", "line 2 field long"},
		{"bad postcode", "pcds,lat,long,oslaua\nLS1;5HD,53,-1,E1\n", "line 2 field pcds"},
		{"duplicate postcode", "pcds,lat,long,oslaua\nLS1 5HD,53,-1,E1\nls15hd,53,-1,E1\n", "line 3 field pcds: duplicate"},
		{"short row", "pcds,lat,long,oslaua\nLS1 5HD,53\n", "line 2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseGazetteer(strings.NewReader(tc.input))
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestParseGazetteerHeaderOrderAndBOM(t *testing.T) {
	g, err := ParseGazetteer(strings.NewReader("\ufeffLONG,oslaua,extra,LAT,PCDS\n-1.5492,E08000035,x,53.7997,LS1 5HD\n"))
	if err != nil {
		t.Fatal(err)
	}
	if lat, lon, ok := g.Lookup("LS1 5HD"); !ok || lat != 53.7997 || lon != -1.5492 {
		t.Errorf("Lookup = %v %v %v", lat, lon, ok)
	}
}

func TestNormalizePostcode(t *testing.T) {
	tests := []struct{ in, want string }{
		{"ls1 5hd", "LS1 5HD"},
		{"LS15HD", "LS1 5HD"},
		{"sw1a1aa", "SW1A 1AA"},
		{"M1 1AE", "M1 1AE"},
		{"M11A", ""},
		{"LS1-5HD", ""},
		{"SW1A 1AAX", ""},
	}
	for _, tc := range tests {
		got, ok := NormalizePostcode(tc.in)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("NormalizePostcode(%q) = %q, %v; want %q", tc.in, got, ok, tc.want)
		}
	}
}

// FuzzParseGazetteer checks that no input panics and that every postcode a parsed gazetteer
// holds resolves to coordinates within WGS84 ranges.
func FuzzParseGazetteer(f *testing.F) {
	f.Add([]byte(onspdSample))
	f.Add([]byte("pcds,lat,long,oslaua\nLS1 5HD,53.8,-1.5,E1\n"))
	f.Add([]byte("pcds,lat,long,oslaua\n\"LS1 5HD\",\"1e2\",x,\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := ParseGazetteer(bytes.NewReader(data))
		if err != nil {
			return
		}
		for key, e := range g.entries {
			if e.lat < -90e6 || e.lat > 90e6 || e.lon < -180e6 || e.lon > 180e6 {
				t.Fatalf("entry %x out of range: %+v", key, e)
			}
			if int(e.authority) >= len(g.authorities) {
				t.Fatalf("entry %x has no authority", key)
			}
		}
	})
}
