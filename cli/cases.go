package cli

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/carepath/carepath/bulkimport"
	"github.com/carepath/carepath/failure"
	"github.com/carepath/carepath/triage"
)

// ExitInterrupted is the exit code of a command stopped by Ctrl-C or SIGTERM, as shells use.
const ExitInterrupted = 130

// maxRejectsShown bounds the rejected lines printed on stderr; a rejects file holds them all.
const maxRejectsShown = 50

func (c *commands) casesCommand() *cli.Command {
	return &cli.Command{
		Name:  "cases",
		Usage: "bulk work on stored cases",
		Subcommands: []*cli.Command{{
			Name:      "import",
			Usage:     "decide and store assessments from JSON lines (one native or FHIR assessment per line), in batches",
			ArgsUsage: "FILE.jsonl|-",
			Flags: []cli.Flag{
				&cli.IntFlag{Name: "batch", Usage: "lines per transaction (default 1000 on SQLite, 2000 on PostgreSQL)"},
				&cli.IntFlag{Name: "workers", Value: runtime.GOMAXPROCS(0), Usage: "deciding goroutines"},
				&cli.StringFlag{Name: "rejects", Usage: "also write refused lines to this file, as JSON lines {line, reason, body}"},
				&cli.BoolFlag{Name: "resume", Usage: "continue an interrupted import: lines already stored are counted, not stored twice (also true without it)"},
				&cli.BoolFlag{Name: "book", Usage: "also match services and book a visit for each case, from now, one line at a time (slower)"},
			},
			Action: c.importCases,
		}},
	}
}

func (c *commands) importCases(ctx *cli.Context) error {
	if ctx.NArg() != 1 {
		return cli.Exit("carepath cases import: give one FILE.jsonl, or - for standard input", ExitInvalid)
	}
	if ctx.IsSet("batch") && ctx.Int("batch") < 1 {
		return cli.Exit("carepath cases import: --batch must be at least 1", ExitInvalid)
	}
	var in io.Reader = c.io.Stdin
	var size int64 = -1
	if name := ctx.Args().First(); name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return cli.Exit("carepath cases import: "+err.Error(), ExitInvalid)
		}
		defer f.Close()
		if st, err := f.Stat(); err == nil {
			size = st.Size()
		}
		in = f
	}
	var rejects *json.Encoder
	if name := ctx.String("rejects"); name != "" {
		f, err := os.Create(name)
		if err != nil {
			return cli.Exit("carepath cases import: --rejects: "+err.Error(), ExitInvalid)
		}
		defer f.Close()
		rejects = json.NewEncoder(f)
		rejects.SetEscapeHTML(false)
	}
	s, err := c.open(ctx, false)
	if err != nil {
		return err
	}
	defer s.close()

	sigctx, stop := signal.NotifyContext(ctx.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if ctx.Bool("book") {
		return c.importBooking(sigctx, s, in, rejects)
	}
	bar := c.progressBar(size, "importing")
	if bar != nil {
		in = io.TeeReader(in, bar)
	}
	im := &bulkimport.Importer{Store: s.forms, RuleStore: s.rules, Rules: s.engine.Rules, Now: c.now,
		BatchSize: ctx.Int("batch"), Workers: max(ctx.Int("workers"), 1), Resume: ctx.Bool("resume")}
	shown := 0
	started := time.Now()
	sum, err := im.Import(sigctx, in, func(r bulkimport.Rejected) error {
		if shown < maxRejectsShown {
			fmt.Fprintf(c.io.Stderr, "line %d: %s\n", r.Line, r.Reason)
		} else if shown == maxRejectsShown {
			hint := "--rejects FILE keeps them all"
			if rejects != nil {
				hint = "the rejects file has them all"
			}
			fmt.Fprintf(c.io.Stderr, "(more refused lines not shown; %s)\n", hint)
		}
		shown++
		if rejects != nil {
			return rejects.Encode(struct {
				Line   int    `json:"line"`
				Reason string `json:"reason"`
				Body   string `json:"body"`
			}{r.Line, r.Reason, string(r.Body)})
		}
		return nil
	}, func(sum bulkimport.Summary) {
		if bar != nil {
			bar.Describe(fmt.Sprintf("importing: %d stored, %d refused", sum.Stored, sum.Rejected))
		}
	})
	if bar != nil {
		_ = bar.Finish()
		fmt.Fprintln(c.io.Stderr)
	}
	elapsed := time.Since(started) // wall time of the run for the rate shown to a person, not domain logic
	fmt.Fprintf(c.io.Stdout, "read %d lines: stored %d, already stored %d, refused %d (%.0f lines/s)\n",
		sum.Lines, sum.Stored, sum.AlreadyStored, sum.Rejected, float64(sum.Lines)/max(elapsed.Seconds(), 1e-9))
	if errors.Is(err, context.Canceled) && sigctx.Err() != nil {
		return cli.Exit(fmt.Sprintf("carepath cases import: interrupted; every line up to %d is stored (or refused); run the same command with --resume to continue after it", sum.CommittedLine), ExitInterrupted)
	} else if err != nil {
		return fmt.Errorf("cases import: stopped after line %d (every line up to it is stored or refused; --resume continues): %w", sum.CommittedLine, err)
	}
	if sum.Rejected > 0 {
		return cli.Exit(fmt.Sprintf("carepath cases import: %d lines were refused (reasons above); the other lines are stored", sum.Rejected), ExitInvalid)
	}
	return nil
}

// progressBar returns a bar on stderr when stderr is a terminal, else nil; max -1 is a spinner.
func (c *commands) progressBar(max int64, what string) *progressbar.ProgressBar {
	f, ok := c.io.Stderr.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	opts := []progressbar.Option{
		progressbar.OptionSetWriter(f), progressbar.OptionSetDescription(what), progressbar.OptionShowCount(),
		progressbar.OptionThrottle(200 * time.Millisecond), progressbar.OptionSetPredictTime(true),
		progressbar.OptionShowElapsedTimeOnFinish(), progressbar.OptionClearOnFinish(),
	}
	if what == "importing" {
		opts = append(opts, progressbar.OptionShowBytes(true))
	} else {
		opts = append(opts, progressbar.OptionShowIts(), progressbar.OptionSetItsString("cases"))
	}
	return progressbar.NewOptions64(max, opts...)
}

// importBooking sends each line through the live pipeline, so every case also gets its services
// and a booked visit. The idempotency key is the line's hash, so a re-run stores nothing twice.
func (c *commands) importBooking(ctx context.Context, s *services, in io.Reader, rejects *json.Encoder) error {
	lines := bufio.NewScanner(in)
	lines.Buffer(make([]byte, 0, 64*1024), triage.MaxSubmissionBytes+1)
	var n, stored, already, refused, booked int
	for lines.Scan() {
		if ctx.Err() != nil {
			return cli.Exit(fmt.Sprintf("carepath cases import: interrupted; every line before %d is stored (or refused); run the same command again to continue", n+1), ExitInterrupted)
		}
		n++
		body := lines.Bytes()
		if len(bytes.TrimSpace(body)) == 0 {
			continue
		}
		sum := sha256.Sum256(body)
		d, created, err := s.engine.Submit(ctx, body, triage.Options{IdempotencyKey: "import:" + hex.EncodeToString(sum[:])})
		switch {
		case triage.IsInvalid(err) || failure.CodeOf(err) == failure.Unavailable || failure.CodeOf(err) == failure.Conflict:
			refused++
			if refused <= maxRejectsShown {
				fmt.Fprintf(c.io.Stderr, "line %d: %v\n", n, err)
			}
			if rejects != nil {
				if err := rejects.Encode(struct {
					Line   int    `json:"line"`
					Reason string `json:"reason"`
					Body   string `json:"body"`
				}{n, err.Error(), string(body)}); err != nil {
					return err
				}
			}
		case err != nil:
			return fmt.Errorf("cases import: stopped at line %d (every line before it is stored or refused; run again to continue): %w", n, err)
		case created:
			stored++
			if d.Assignment != nil {
				booked++
			}
		default:
			already++
		}
	}
	if err := lines.Err(); err != nil {
		return cli.Exit(fmt.Sprintf("carepath cases import: line %d: %v", n+1, err), ExitInvalid)
	}
	fmt.Fprintf(c.io.Stdout, "read %d lines: stored %d (%d with a booked visit), already stored %d, refused %d\n", n, stored, booked, already, refused)
	if refused > 0 {
		return cli.Exit(fmt.Sprintf("carepath cases import: %d lines were refused (reasons above); the other lines are stored", refused), ExitInvalid)
	}
	return nil
}
