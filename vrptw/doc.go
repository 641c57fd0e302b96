// Package vrptw solves vehicle routing problems with time windows: a day's routes for a fleet of
// vehicles (practitioners) that start and end at a base, each with working hours, a capacity and
// skills, serving visits with a location, a time window, a service duration, a demand, required
// skills and, optionally, a vehicle they are pinned to.
//
// The solver builds routes by regret insertion and improves them by adaptive large neighbourhood
// search (random, worst, related and route removal; greedy, regret-k, random-order and
// slack-keeping insertion; simulated-annealing acceptance) with route-based local search
// (relocate, exchange, or-opt, 2-opt, 2-opt*) on every candidate, granular on large problems. It
// minimises, in order, the number of unserved visits, the number of vehicles used and the total
// travel (or, for a day of salaried practitioners, unserved visits then travel: Problem.TravelOnly),
// with Problem.MovePenalty charged for each visit taken off its Home vehicle, so that re-planning
// a day changes few visits. While some visits fit nowhere, an ejection pool (Nagata and Bräysy)
// packs them in: a visit goes in at the cost of up to two visits of one route, those ejected least
// often, which take its place in the pool. Visits that no vehicle can serve are left unserved,
// never an error. Greedy books visits one at a time, never moving one, as a baseline. The search is
// deterministic for a seed when it stops on an iteration limit; under a time limit the result
// depends on how many iterations fit.
//
// The package also reads Solomon's benchmark instances (ParseSolomon) so that the solver can be
// compared with the best known results of the literature.
package vrptw
