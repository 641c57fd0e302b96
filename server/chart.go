package server

import (
	"fmt"
	"html"
	"html/template"
	"strconv"
	"strings"
)

// chartBar is one bar of a bar chart: what it counts and how many.
type chartBar struct {
	Label string
	Value int64
}

// Sizes of a bar chart in SVG user units; the chart scales to its container's width.
const (
	chartWidth     = 640
	chartRowHeight = 48 // a label line above a bar
	chartBarHeight = 20
	chartPad       = 8
	chartValueRoom = 72 // room right of the longest bar for its count
)

// barChart draws horizontal bars as inline SVG, server-side, so that the chart needs no script
// and no other origin. Each bar's label sits above it and its count beside it, so the chart reads
// without colour; the SVG is one image to assistive technology, named by title and described by
// every bar in words, and pages show the same numbers in a table beside it. id must be unique on
// the page. Presentation attributes only: the Content-Security-Policy refuses style attributes.
func barChart(id, title, unit string, bars []chartBar) template.HTML {
	if len(bars) == 0 {
		return ""
	}
	var most int64
	for _, b := range bars {
		most = max(most, b.Value)
	}
	height := len(bars)*chartRowHeight + chartPad
	var desc []string
	var body strings.Builder
	for i, b := range bars {
		y := chartPad + i*chartRowHeight
		w := 0
		if most > 0 {
			w = int(float64(chartWidth-chartValueRoom) * float64(b.Value) / float64(most))
		}
		if b.Value > 0 && w < 2 {
			w = 2 // a count above zero is always visible
		}
		count := strconv.FormatInt(b.Value, 10)
		desc = append(desc, b.Label+": "+count+" "+unit)
		fmt.Fprintf(&body, `<g class="cp-chart__row"><text class="cp-chart__label" x="0" y="%d">%s</text>`, y+14, html.EscapeString(b.Label))
		fmt.Fprintf(&body, `<rect class="cp-chart__bar" x="0" y="%d" width="%d" height="%d" fill="#005eb8"></rect>`, y+20, w, chartBarHeight)
		fmt.Fprintf(&body, `<text class="cp-chart__value" x="%d" y="%d">%s</text></g>`, w+6, y+20+15, count)
	}
	id = html.EscapeString(id)
	return template.HTML(fmt.Sprintf(`<svg class="cp-chart" id="%s" role="img" aria-labelledby="%s-title %s-desc" viewBox="0 0 %d %d" width="100%%" preserveAspectRatio="xMinYMin meet">`+
		`<title id="%s-title">%s</title><desc id="%s-desc">%s</desc>%s</svg>`,
		id, id, id, chartWidth, height, id, html.EscapeString(title), id, html.EscapeString(strings.Join(desc, "; ")+"."), body.String()))
}
