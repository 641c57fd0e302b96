// Command carepath is a rules-driven assessment and triage engine for councils and NHS community
// services. See README.md.
package main

import (
	"os"
	"os/user"
	"time"
	_ "time/tzdata" // schedules and working hours need UK time on machines without a zoneinfo database

	"github.com/carepath/carepath/cli"
)

func main() {
	app := cli.New(cli.IO{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, LocalAccount: localAccount()}, time.Now)
	os.Exit(cli.Run(app, os.Args))
}

// localAccount names the operating-system account running carepath, which commands that open the
// database directly act as.
func localAccount() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	if name := os.Getenv("USER"); name != "" {
		return name
	}
	return "unknown"
}
