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
// With great-circle travel, InsertVisit measures travel only where it can matter: a route whose
// every position fails with no travel at all (DayRoute.reach; Insert's times only grow with
// travel) costs no trigonometry beyond its start point, so a decision escalated past full days
// stays cheap. The haversine is orb's written out with each latitude's cosine taken once, equal
// to the bit; reference_test.go keeps the previous algorithm, and the tests require its outcome.
//
// RouteBook keeps the roster and routes of one process in memory, each route with the version
// (route_changes.seq) it was read at. A decision plans on the book before its transaction; inside
// it, ClaimRoute checks in one statement that the chosen route is still at that version and stamps
// a new one (PostgreSQL's sequence route_seq hands versions out without a lock; SQLite's one
// writer uses the visits counter of routing_marker). A route changed meanwhile fails the claim and
// the decision plans again on the route read afresh, so two decisions never book overlapping
// visits and bookings of different practitioners never wait for each other. A process applies its
// own committed bookings to its book, queues its own bookings of one route in memory (Hold), and
// looks for routes changed elsewhere at most every RouteBook.Refresh. Coordinators' moves,
// cancellations and re-plans lock the route and re-read it inside their transaction, and stamp
// a new version as bookings do.
//
// The on-call rota (OnCall) and escalations (Escalation, SQLStore.Escalations) cover what no
// working practitioner can reach before its deadline. Assign, the slot-grid assignment, and
// Optimise, the min-cost-flow re-assignment of a day's grid visits, remain for existing callers.
//
// Nothing in this package reads the clock: decision times and "now" are always passed in.
package routing
