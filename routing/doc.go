// Package routing places a case with a practitioner once the rules have picked a pathway and the
// services directory has ranked the services that can deliver it.
//
// A practitioner's day is a route (DayRoute): from their base, or a configured start point, at
// the start of their working hours, through their visits in order, back to the base or end point
// by the end, never with a visit in a break. Each visit keeps a window (earliest start, latest
// end). At decision time InsertVisit puts the new visit at the cheapest feasible position of the
// best practitioner's route (added travel, caseload, continuity of carer and days of waiting);
// its time is the arrival time on the route, not a grid slot. Routine insertions leave booked
// visits where they are; urgent ones may move unpinned visits that have not started later, each
// inside its own window, and report what moved. A service's opening hours (RouteRequest.Open)
// bound the visits for it like a second window: each lies inside one opening.
//
// SQLStore.Move is a coordinator's move of one visit to any minute: it takes the route lock, then
// checks the practitioner's day as a route (working hours, breaks, travel from the stop before and
// to the stop after, the service's openings) and the visit's own window unless overridden, and
// records the move with its cause in visit_moves. It runs in the caller's transaction when given
// one, so the caller's events commit with it. One insertion among 500 practitioners' routes takes
// about 1.5 ms on a 2-core machine (BenchmarkInsertVisit500).
//
// RouteBook keeps the roster and routes of one process in memory. Every change to practitioners
// or visits bumps a counter in routing_marker in its own transaction and stamps the
// practitioner's route_changes row, so a decision reads one small row to know whether anything
// changed, and re-reads only the changed practitioners' visits. A booking locks the chosen
// practitioner's route_changes row, rebuilds that route from the database inside the decision's
// transaction and inserts again there, so two decisions never book overlapping visits; a route
// that no longer fits is reported as ErrSlotTaken and the caller retries.
//
// The on-call rota (OnCall) and escalations (Escalation, SQLStore.Escalations) cover what no
// working practitioner can reach before its deadline. Assign, the slot-grid assignment, and
// Optimise, the min-cost-flow re-assignment of a day's grid visits, remain for existing callers.
//
// Nothing in this package reads the clock: decision times and "now" are always passed in.
package routing
