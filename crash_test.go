package main_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/database/databasetest"
	"github.com/carepath/carepath/outbox"
)

// crashSecret signs the crash test's webhooks.
const crashSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// envInt reads a positive whole number from the environment, or def.
func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// webhookLog is a loopback receiver that checks each webhook's signature and records, in arrival
// order, every message it accepted.
type webhookLog struct {
	key    []byte
	mu     sync.Mutex
	got    []outbox.Event
	forged atomic.Int64
}

func (l *webhookLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if err := outbox.Verify(l.key, r.Header, body, time.Now(), 5*time.Minute); err != nil {
		l.forged.Add(1)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var e outbox.Event
	if err := json.Unmarshal(body, &e); err != nil || e.ID != r.Header.Get(outbox.HeaderID) {
		l.forged.Add(1)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	l.mu.Lock()
	l.got = append(l.got, e)
	l.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// TestOutboxSurvivesSIGKILL runs `carepath serve` under concurrent submissions and kills it with
// SIGKILL at random moments, restarting it each time, while a loopback receiver records the
// webhooks; then every committed decision must have had its decision.made delivered (duplicates
// only as redeliveries of one id), each case's events in order, and refused requests no event.
// CAREPATH_CRASH_KILLS (default 20) and CAREPATH_CRASH_RUN_MS (the mean time a server lives, default
// 300) make the long form.
func TestOutboxSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and kills it repeatedly")
	}
	kills, runMS := envInt("CAREPATH_CRASH_KILLS", 20), envInt("CAREPATH_CRASH_RUN_MS", 300)
	dir := t.TempDir()
	bin := filepath.Join(dir, "carepath")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	demo, err := os.ReadFile(filepath.Join("fixtures", "examples", "discharge.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, dialect := range databasetest.Dialects() {
		t.Run(string(dialect), func(t *testing.T) {
			crashRun(t, bin, databasetest.DSN(t, dialect), demo, kills, time.Duration(runMS)*time.Millisecond)
		})
	}
}

// server is one carepath serve process.
type serveProcess struct {
	cmd *exec.Cmd
	url string
}

func startServe(t *testing.T, bin, dsn, home string) *serveProcess {
	t.Helper()
	cmd := exec.Command(bin, "--db", dsn, "serve", "--addr", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+filepath.Join(home, "config"), "XDG_DATA_HOME="+filepath.Join(home, "data"), "HOME="+home,
		"CAREPATH_OUTBOX_POLL=50ms", "CAREPATH_OUTBOX_TIMEOUT=1s", "CAREPATH_OUTBOX_LEASE=2s", "CAREPATH_OUTBOX_BACKOFF_BASE=50ms",
		"CAREPATH_OUTBOX_BACKOFF_MAX=200ms", "CAREPATH_OUTBOX_MAX_ATTEMPTS=1000")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// A server that never says where it listens is killed, which ends the scan below.
	ready := make(chan struct{})
	defer close(ready)
	go func() {
		select {
		case <-ready:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
		}
	}()
	lines := bufio.NewScanner(stderr)
	re := regexp.MustCompile(`url=(http://\S+)`)
	var tail bytes.Buffer
	for lines.Scan() {
		tail.WriteString(lines.Text() + "\n")
		if m := re.FindStringSubmatch(lines.Text()); m != nil {
			go io.Copy(io.Discard, stderr)
			return &serveProcess{cmd: cmd, url: m[1]}
		}
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	t.Fatalf("server never said where it listens:\n%s", tail.String())
	return nil
}

// submission is what a client learned of one request.
type submission struct {
	valid    bool
	status   int // 0 when the connection broke
	decision string
}

func crashRun(t *testing.T, bin, dsn string, demo []byte, kills int, run time.Duration) {
	key, _ := outbox.ParseSecret(crashSecret)
	rcv := &webhookLog{key: key}
	hook := httptest.NewServer(rcv)
	defer hook.Close()
	db, err := database.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := outbox.AddSubscription(t.Context(), db, outbox.Subscription{ID: "crash", URL: hook.URL, Secret: crashSecret, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	var (
		mu   sync.Mutex
		subs []submission
		seq  atomic.Int64
	)
	client := &http.Client{Timeout: 5 * time.Second}
	post := func(url, path, token string, body []byte, idem string) (int, []byte) {
		req, _ := http.NewRequest(http.MethodPost, url+path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		if idem != "" {
			req.Header.Set("Idempotency-Key", idem)
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, nil
		}
		defer resp.Body.Close()
		out, err := io.ReadAll(resp.Body)
		if err != nil {
			return 0, nil
		}
		return resp.StatusCode, out
	}
	invalid := []byte(`{"form":"discharge","answers":{"no_such_item":1}}`)
	for round := 0; round <= kills; round++ {
		p := startServe(t, bin, dsn, home)
		if round == kills {
			// The last server lives until every delivery is made.
			waitDelivered(t, db, p)
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
			_ = p.cmd.Wait()
			break
		}
		ctx, stop := context.WithCancel(t.Context())
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for ctx.Err() == nil {
					n := seq.Add(1)
					s := submission{valid: n%5 != 0}
					body := demo
					if !s.valid {
						body = invalid
					}
					status, out := post(p.url, "/v1/assessments", "cpt_demo_clinician", body, fmt.Sprintf("crash-%d", n))
					s.status = status
					var d struct {
						ID         string `json:"id"`
						Assignment *struct {
							Appointment struct{ ID string } `json:"appointment"`
						} `json:"assignment"`
					}
					if status == http.StatusCreated && json.Unmarshal(out, &d) == nil {
						s.decision = d.ID
						// Some cases get a second event, so per-case order is tested too.
						if d.Assignment != nil && n%3 == 0 {
							post(p.url, "/v1/appointments/"+d.Assignment.Appointment.ID+"/cancel", "cpt_demo_coordinator", nil, "")
						}
					}
					mu.Lock()
					subs = append(subs, s)
					mu.Unlock()
					if status == 0 {
						return // the server is gone; the next one gets new requests
					}
				}
			})
		}
		time.Sleep(run/2 + time.Duration(rng.Int64N(int64(run))))
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		_ = p.cmd.Wait()
		stop()
		wg.Wait()
	}
	checkCrashRun(t, db, rcv, subs)
}

// waitDelivered waits until no delivery is pending, or fails after a minute.
func waitDelivered(t *testing.T, db *database.DB, p *serveProcess) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		pending, dead, err := outbox.Depth(t.Context(), db)
		if err != nil {
			t.Fatal(err)
		}
		if pending == 0 {
			if dead != 0 {
				t.Errorf("%d deliveries dead-lettered", dead)
			}
			return
		}
		if time.Now().After(deadline) {
			_ = p.cmd.Process.Kill()
			t.Fatalf("%d deliveries still pending after a minute", pending)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func checkCrashRun(t *testing.T, db *database.DB, rcv *webhookLog, subs []submission) {
	t.Helper()
	var decisions []string
	if err := db.SelectContext(t.Context(), &decisions, `SELECT id FROM decisions`); err != nil {
		t.Fatal(err)
	}
	type stored struct {
		Seq  int64  `db:"seq"`
		ID   string `db:"id"`
		Type string `db:"type"`
		Case string `db:"case_key"`
	}
	var events []stored
	if err := db.SelectContext(t.Context(), &events, `SELECT seq, id, type, case_key FROM outbox_events ORDER BY seq`); err != nil {
		t.Fatal(err)
	}
	committed := map[string]bool{}
	for _, id := range decisions {
		committed[id] = true
	}
	made := map[string]int{}
	byID := map[string]stored{}
	for _, e := range events {
		byID[e.ID] = e
		if !committed[e.Case] {
			t.Errorf("event %s (%s) for case %s, which has no committed decision", e.ID, e.Type, e.Case)
		}
		if e.Type == outbox.DecisionMade {
			made[e.Case]++
		}
	}
	for _, id := range decisions {
		if made[id] != 1 {
			t.Errorf("decision %s has %d decision.made events, want 1", id, made[id])
		}
	}
	acked, refused, broken := 0, 0, 0
	for _, s := range subs {
		switch {
		case s.status == http.StatusCreated:
			acked++
			if !committed[s.decision] {
				t.Errorf("decision %s was acknowledged but not stored", s.decision)
			}
		case s.status == 0:
			broken++
		case !s.valid:
			refused++
			if s.status != http.StatusUnprocessableEntity && s.status != http.StatusBadRequest {
				t.Errorf("an invalid submission got %d", s.status)
			}
		}
	}
	// Receipts: every event delivered, duplicates only as the same id, each case's first receipts
	// in the order the events were written.
	rcv.mu.Lock()
	got := append([]outbox.Event(nil), rcv.got...)
	rcv.mu.Unlock()
	receipts := map[string]int{}
	lastSeq := map[string]int64{}
	dups := 0
	for _, g := range got {
		e, ok := byID[g.ID]
		if !ok {
			t.Errorf("received event %s, which is not in the outbox", g.ID)
			continue
		}
		receipts[g.ID]++
		if receipts[g.ID] > 1 {
			dups++
			continue
		}
		if e.Seq < lastSeq[e.Case] {
			t.Errorf("case %s: event %s (seq %d) first arrived after seq %d", e.Case, e.ID, e.Seq, lastSeq[e.Case])
		}
		lastSeq[e.Case] = e.Seq
	}
	for _, e := range events {
		if receipts[e.ID] == 0 {
			t.Errorf("event %s (%s) never delivered", e.ID, e.Type)
		}
	}
	if n := rcv.forged.Load(); n != 0 {
		t.Errorf("%d webhooks failed the signature check", n)
	}
	if acked == 0 || refused == 0 {
		t.Errorf("the run made %d decisions and refused %d requests; want both", acked, refused)
	}
	t.Logf("%d requests: %d decisions acknowledged, %d refused, %d cut by a kill; %d decisions stored, %d events, %d webhooks (%d redeliveries)",
		len(subs), acked, refused, broken, len(decisions), len(events), len(got), dups)
}
