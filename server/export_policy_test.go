package server

// BarChart exposes the server-drawn bar chart to the tests.
var BarChart = func(id, title, unit string, labels []string, values []int64) string {
	bars := make([]chartBar, len(labels))
	for i := range labels {
		bars[i] = chartBar{Label: labels[i], Value: values[i]}
	}
	return string(barChart(id, title, unit, bars))
}
