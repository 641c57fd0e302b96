package routing

import (
	"fmt"
	"net/http"
	"time"
)

// Travel sources that configuration may name.
const (
	SourceGreatCircle = "greatcircle"
	SourceOSRM        = "osrm"
)

// travelCachePairs bounds the travel cache of a source, as the placement's own cache does.
const travelCachePairs = 100_000

// TravelConfig names a travel source and how to reach it.
type TravelConfig struct {
	// Source is SourceGreatCircle (the default when empty) or SourceOSRM.
	Source   string
	OSRMURL  string
	MaxTable int
	// Timeout bounds one request to the server; zero means 30 s.
	Timeout time.Duration
}

// TravelSource is the configured travel: times for routing, and road geometry for maps when the
// source has it (nil for great-circle travel, whose maps draw straight segments).
type TravelSource struct {
	Name     string
	Travel   Travel
	Geometry Geometry
}

// NewTravelSource builds the travel a configuration names, with an OSRM server's times cached.
func NewTravelSource(cfg TravelConfig) (TravelSource, error) {
	switch cfg.Source {
	case "", SourceGreatCircle:
		// A few multiplications: computing a time again costs less than looking it up.
		return TravelSource{Name: SourceGreatCircle, Travel: GreatCircle{}}, nil
	case SourceOSRM:
		if cfg.OSRMURL == "" {
			return TravelSource{}, fmt.Errorf("routing: unable to use OSRM travel: no server URL")
		}
		timeout := cfg.Timeout
		if timeout <= 0 {
			timeout = 30 * time.Second
		}
		o := OSRM{BaseURL: cfg.OSRMURL, MaxTable: cfg.MaxTable, Client: &http.Client{Timeout: timeout}}
		c, err := NewCached(o, travelCachePairs)
		if err != nil {
			return TravelSource{}, err
		}
		return TravelSource{Name: SourceOSRM, Travel: c, Geometry: o}, nil
	}
	return TravelSource{}, fmt.Errorf("routing: unable to choose travel: source %q is not %s or %s", cfg.Source, SourceGreatCircle, SourceOSRM)
}
