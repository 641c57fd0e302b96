// Package routing assigns a practitioner and an appointment to a case once the rules have picked a
// pathway and the services directory has ranked the services that can deliver it.
//
// Appointments sit on a fixed slot grid (SlotLength, aligned to the hour in the council's time
// zone) so that a double booking is a duplicate (practitioner, slot start) pair, which a store can
// forbid with a unique constraint. Assign places one case at the moment a decision is made;
// Optimise re-assigns a day's movable visits to minimise total travel, exactly, as a min-cost flow.
//
// Nothing in this package reads the clock: decision times and "now" are always passed in.
package routing
