package database

import "time"

// QueuedWrites is how many InTx calls wait on SQLite's writer, not yet taken into a batch.
func QueuedWrites(db *DB) int {
	db.writer.mu.Lock()
	defer db.writer.mu.Unlock()
	return len(db.writer.queue)
}

// SetBatchBounds changes how many jobs, and how long, one SQLite batch may take.
func SetBatchBounds(db *DB, jobs int, work time.Duration) {
	db.writer.mu.Lock()
	defer db.writer.mu.Unlock()
	db.writer.maxJobs, db.writer.maxWork = jobs, work
}
