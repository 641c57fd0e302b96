package main_test

import (
	"bufio"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestServeEndToEnd builds the binary, serves on an empty SQLite file (which loads the demo data),
// submits the README's demo assessment over loopback, and stops the server with SIGTERM.
func TestServeEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "carepath")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "--db", "sqlite:"+filepath.Join(dir, "c.db"), "serve", "--addr", "127.0.0.1:0")
	// The pseudonym key and any configuration stay in the test's own folders, never the user's.
	cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+filepath.Join(dir, "config"), "XDG_DATA_HOME="+filepath.Join(dir, "data"), "HOME="+dir)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := bufio.NewScanner(stderr)
	url := ""
	re := regexp.MustCompile(`url=(http://\S+)`)
	for url == "" && lines.Scan() {
		if m := re.FindStringSubmatch(lines.Text()); m != nil {
			url = m[1]
		}
	}
	if url == "" {
		t.Fatal("server never said where it listens")
	}
	go io.Copy(io.Discard, stderr)

	demo, err := os.ReadFile(filepath.Join("fixtures", "examples", "mental-health.json"))
	if err != nil {
		t.Fatal(err)
	}
	// Anonymous: refused. As the demo clinician, with the token the server printed: decided.
	resp, err := http.Post(url+"/v1/assessments", "application/json", strings.NewReader(string(demo)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("anonymous POST: %d, want 401", resp.StatusCode)
	}
	req, err := http.NewRequest("POST", url+"/v1/assessments", strings.NewReader(string(demo)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer cpt_demo_clinician")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || !strings.Contains(strings.ReplaceAll(string(body), `": "`, `":"`), `"pathway":"talking-therapies-step2"`) {
		t.Fatalf("POST: %d %s", resp.StatusCode, body)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("server did not exit cleanly on SIGTERM: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Error("server did not stop within 20s of SIGTERM")
	}
}
