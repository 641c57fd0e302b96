package outbox

// SetFanOutBatch makes d fan out at most n events a round, so tests can make a backlog of
// several rounds from a few events.
func SetFanOutBatch(d *Deliverer, n int) { d.fanOutN = n }

// Checks returns how many reads d has made to learn whether a round had anything to do.
func Checks(d *Deliverer) int64 { return d.checks.Load() }
