package cli

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/carepath/carepath/vrptw"
)

// solveResult is what `routing solve` prints for one instance.
type solveResult struct {
	Served       int     `json:"served"`
	VehiclesUsed int     `json:"vehicles_used"`
	Distance     float64 `json:"distance"`
	Routes       [][]int `json:"routes"`
	Unserved     []int   `json:"unserved"`
}

// routingSolveCommand solves benchmark instances from files with the day planner's solver; it never
// opens the database.
func (c *commands) routingSolveCommand() *cli.Command {
	return &cli.Command{
		Name:  "solve",
		Usage: "solve a Solomon VRPTW instance (or benchmark a folder of them) with the route planner's solver",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "solomon", Usage: "an instance FILE in Solomon's format; prints the routes as JSON"},
			&cli.StringFlag{Name: "solomon-dir", Usage: "benchmark every instance named in DIR/best-known.csv with its best known fleet; prints a Markdown table"},
			&cli.StringFlag{Name: "instances", Usage: "with --solomon-dir: only these instances (comma-separated names)"},
			&cli.IntFlag{Name: "vehicles", Usage: "fleet size (default: the file's)"},
			&cli.StringFlag{Name: "time-limit", Value: "10s", Usage: "search time per instance (a Go duration: 10s, 1m30s)"},
			&cli.IntFlag{Name: "iterations", Usage: "stop after this many iterations instead (repeatable for a seed whatever the machine)"},
			&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "the same seed and iteration limit give the same routes"},
			&cli.BoolFlag{Name: "cpu-clock", Usage: "measure --time-limit in this process's CPU time, so a loaded machine gives the search the work of an idle core"},
		},
		Action: func(ctx *cli.Context) error {
			fail := func(err error) error { return cli.Exit("carepath routing solve: "+err.Error(), ExitInvalid) }
			file, dir := ctx.String("solomon"), ctx.String("solomon-dir")
			if (file == "") == (dir == "") {
				return fail(fmt.Errorf("give one of --solomon FILE and --solomon-dir DIR"))
			}
			limit, err := time.ParseDuration(ctx.String("time-limit"))
			if err != nil || (limit <= 0 && ctx.Int("iterations") <= 0) {
				return fail(fmt.Errorf("--time-limit %q: give a positive duration (or --iterations)", ctx.String("time-limit")))
			}
			if ctx.Int("vehicles") < 0 || ctx.Int("iterations") < 0 {
				return fail(fmt.Errorf("--vehicles and --iterations must not be negative"))
			}
			if dir != "" {
				return c.solveDir(ctx, dir, limit)
			}
			inst, err := readSolomon(file)
			if err != nil {
				return fail(err)
			}
			res, err := c.solveOne(ctx, inst, ctx.Int("vehicles"), limit)
			if err != nil {
				return fail(err)
			}
			return c.printJSON(res)
		},
	}
}

// solveClock is the clock the time limit is measured with: the process's CPU time under
// --cpu-clock, else the command's clock.
func (c *commands) solveClock(ctx *cli.Context) func() time.Time {
	if ctx.Bool("cpu-clock") {
		return cpuNow
	}
	return c.now
}

func readSolomon(path string) (*vrptw.Solomon, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return vrptw.ParseSolomon(f)
}

// solveOne solves one instance under the command's limits. The time limit is enforced by a
// context deadline as well, so the search ends on time whatever clock the command was given.
func (c *commands) solveOne(ctx *cli.Context, inst *vrptw.Solomon, vehicles int, limit time.Duration) (*solveResult, error) {
	opt := vrptw.Options{Seed: ctx.Uint64("seed"), Iterations: ctx.Int("iterations"), Now: c.solveClock(ctx)}
	run := context.Context(ctx.Context)
	if opt.Iterations == 0 {
		opt.TimeLimit = limit
		wall := opt.TimeLimit
		if ctx.Bool("cpu-clock") {
			wall *= 20 // a backstop only: the CPU clock ends the search
		}
		var cancel context.CancelFunc
		run, cancel = context.WithTimeout(run, wall)
		defer cancel()
	}
	sol, err := vrptw.Solve(run, inst.Problem(vehicles), opt)
	if err != nil {
		return nil, err
	}
	res := &solveResult{VehiclesUsed: sol.VehiclesUsed, Distance: math.Round(sol.Distance*100) / 100, Routes: [][]int{}, Unserved: []int{}}
	for _, r := range sol.Routes {
		if len(r) == 0 {
			continue
		}
		ids := make([]int, len(r))
		for i, v := range r {
			ids[i] = inst.Nodes[v+1].ID
		}
		res.Routes = append(res.Routes, ids)
		res.Served += len(r)
	}
	for _, v := range sol.Unserved {
		res.Unserved = append(res.Unserved, inst.Nodes[v+1].ID)
	}
	return res, nil
}

// solveDir benchmarks the instances listed in DIR/best-known.csv (instance, vehicles,
// best_known_distance), each with its best known fleet, and prints one Markdown row per instance
// and the averages (the gap averaged over the instances where every customer is served).
func (c *commands) solveDir(ctx *cli.Context, dir string, limit time.Duration) error {
	fail := func(err error) error { return cli.Exit("carepath routing solve: "+err.Error(), ExitInvalid) }
	rows, err := readBestKnown(filepath.Join(dir, "best-known.csv"))
	if err != nil {
		return fail(err)
	}
	only := map[string]bool{}
	for _, n := range strings.Split(ctx.String("instances"), ",") {
		if n = strings.TrimSpace(n); n != "" {
			only[strings.ToUpper(n)] = true
		}
	}
	w := c.io.Stdout
	fmt.Fprintln(w, "| instance | vehicles | served | all served | distance | best known | gap % | time s | booking served | booking distance | booking gap % | not worse |")
	fmt.Fprintln(w, "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
	var n, allServed, greedyAll, notWorse int
	var gapSum, timeSum, greedyGapSum float64
	for _, bk := range rows {
		if len(only) > 0 && !only[strings.ToUpper(bk.name)] {
			continue
		}
		inst, err := readSolomon(filepath.Join(dir, bk.name+".txt"))
		if err != nil {
			return fail(fmt.Errorf("%s: %w", bk.name, err))
		}
		clock := c.solveClock(ctx)
		began := clock()
		res, err := c.solveOne(ctx, inst, bk.vehicles, limit)
		if err != nil {
			return fail(fmt.Errorf("%s: %w", bk.name, err))
		}
		secs := clock().Sub(began).Seconds()
		// Today's booking places each customer, in the file's order, at the cheapest feasible
		// place in the routes as they stand, and never moves it again.
		greedy, err := vrptw.Greedy(inst.Problem(bk.vehicles), nil)
		if err != nil {
			return fail(fmt.Errorf("%s: %w", bk.name, err))
		}
		gServed := len(inst.Nodes) - 1 - len(greedy.Unserved)
		gDist := math.Round(greedy.Distance*100) / 100
		all := res.Served == len(inst.Nodes)-1
		gap := 100 * (res.Distance - bk.distance) / bk.distance
		gGap := 100 * (gDist - bk.distance) / bk.distance
		// Not worse: serves at least as many customers, and with as many no more distance.
		better := res.Served > gServed || (res.Served == gServed && res.Distance <= gDist+1e-9)
		n++
		if all {
			allServed++
			gapSum += gap // a gap with customers left out would flatter
		}
		if gServed == len(inst.Nodes)-1 {
			greedyAll++
			greedyGapSum += gGap
		}
		if better {
			notWorse++
		}
		timeSum += secs
		fmt.Fprintf(w, "| %s | %d | %d/%d | %s | %.2f | %.2f | %.2f | %.1f | %d/%d | %.2f | %.2f | %s |\n", bk.name, bk.vehicles, res.Served,
			len(inst.Nodes)-1, yesNo(all), res.Distance, bk.distance, gap, secs, gServed, len(inst.Nodes)-1, gDist, gGap, yesNo(better))
		if f, ok := w.(interface{ Sync() error }); ok {
			_ = f.Sync()
		}
	}
	if n > 0 {
		avg := "–"
		if allServed > 0 {
			avg = fmt.Sprintf("%.2f", gapSum/float64(allServed))
		}
		gAvg := "–"
		if greedyAll > 0 {
			gAvg = fmt.Sprintf("%.2f", greedyGapSum/float64(greedyAll))
		}
		fmt.Fprintf(w, "| average (%d) | | | %d/%d all served | | | %s | %.1f | %d/%d all served | | %s | %d/%d |\n",
			n, allServed, n, avg, timeSum/float64(n), greedyAll, n, gAvg, notWorse, n)
	}
	return nil
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

type bestKnown struct {
	name     string
	vehicles int
	distance float64
}

func readBestKnown(path string) ([]bestKnown, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	var out []bestKnown
	for line := 1; ; line++ {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if line == 1 && len(rec) > 0 && rec[0] == "instance" {
			continue
		}
		if len(rec) != 3 {
			return nil, fmt.Errorf("%s line %d: want instance,vehicles,best_known_distance", path, line)
		}
		v, err1 := strconv.Atoi(rec[1])
		d, err2 := strconv.ParseFloat(rec[2], 64)
		if err1 != nil || err2 != nil || v <= 0 || d <= 0 || strings.ContainsAny(rec[0], `/\`) {
			return nil, fmt.Errorf("%s line %d: bad row", path, line)
		}
		out = append(out, bestKnown{rec[0], v, d})
	}
	return out, nil
}
