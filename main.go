// Command carepath is a rules-driven assessment and triage engine for councils and NHS community
// services. See README.md.
package main

import (
	"os"
	"time"
	_ "time/tzdata" // schedules and working hours need UK time on machines without a zoneinfo database

	"github.com/carepath/carepath/cli"
)

func main() {
	app := cli.New(cli.IO{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}, time.Now)
	os.Exit(cli.Run(app, os.Args))
}
