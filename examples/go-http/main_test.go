package main

// The README's Go sample and this example app, against a real
// `coresdk-sidecar --dev` (node dist/sidecar/cli.js --dev): 200 with claims
// for the printed development token, 401 problem+json without a token, 200
// with null claims once the sidecar is stopped (fail-open), and 503
// problem+json with coresdk.FailClosed.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coresdk/coresdk/clients/go/coresdk"
)

var repoRoot = filepath.Join("..", "..")

type devSidecar struct {
	cmd   *exec.Cmd
	addr  string
	token string
	done  chan struct{}
}

// startDev runs the --dev sidecar on a free loopback port in dir, and reads its address and token.
func startDev(t *testing.T, dir string) *devSidecar {
	t.Helper()
	bin, _ := filepath.Abs(filepath.Join(repoRoot, "dist", "sidecar", "cli.js"))
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s is missing: run `npm ci` at the repository root first", bin)
	}
	cmd := exec.Command("node", bin, "--dev", "--addr", "127.0.0.1:0")
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CORESDK_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &devSidecar{cmd: cmd, done: make(chan struct{})}
	got := make(chan struct{})
	var once sync.Once
	go func() {
		defer close(s.done)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		wantToken := false
		var serving bool
		for sc.Scan() {
			line := sc.Text()
			var rec map[string]any
			if json.Unmarshal([]byte(line), &rec) == nil {
				if rec["event"] == "listening" {
					s.addr, _ = rec["addr"].(string)
				}
				if rec["event"] == "serving" {
					serving = true
				}
			} else if wantToken {
				s.token, wantToken = strings.TrimSpace(line), false
			} else if strings.HasPrefix(line, "Development token") {
				wantToken = true
			}
			if s.addr != "" && s.token != "" && serving {
				once.Do(func() { close(got) })
			}
		}
		_ = cmd.Wait()
	}()
	t.Cleanup(s.stop)
	select {
	case <-got:
	case <-s.done:
		t.Fatal("the --dev sidecar exited before serving")
	case <-time.After(60 * time.Second):
		t.Fatal("the --dev sidecar printed no address, token or serving line in 60 s")
	}
	return s
}

func (s *devSidecar) stop() {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

func call(t *testing.T, base, method, path, token string) (*http.Response, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body map[string]any
	raw, _ := io.ReadAll(res.Body)
	_ = json.Unmarshal(raw, &body)
	return res, body
}

// readmeSample is the first go block under "## Use it from Go" in README.md.
func readmeSample(t *testing.T) string {
	t.Helper()
	text, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(text), "## Use it from Go")
	if i < 0 {
		t.Fatal("README.md has no 'Use it from Go' section")
	}
	m := regexp.MustCompile("(?s)```go\n(.*?)```").FindStringSubmatch(string(text[i:]))
	if m == nil {
		t.Fatal("README.md: no go block under 'Use it from Go'")
	}
	for _, want := range []string{`SidecarAddr: "[::1]:50051"`, `TenantID:    "acme-corp"`, "FailMode:    coresdk.FailOpen", `mux.Handle("/documents/", coresdk.Middleware(client)(`} {
		if !strings.Contains(m[1], want) {
			t.Fatalf("the README sample lost %q", want)
		}
	}
	return m[1]
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// runSample builds the README sample (as a package of this module, through
// an overlay: nothing is written into the tree) with the sidecar's address,
// the fail mode and a free port, and runs it.
func runSample(t *testing.T, sample, sidecarAddr, failMode string) string {
	t.Helper()
	dir := t.TempDir()
	addr := freeAddr(t)
	src := strings.Replace(sample, `"[::1]:50051"`, fmt.Sprintf("%q", sidecarAddr), 1)
	src = strings.Replace(src, `"localhost:8080"`, fmt.Sprintf("%q", addr), 1)
	src = strings.Replace(src, "coresdk.FailOpen", failMode, 1)
	file := filepath.Join(dir, "main.go")
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	overlay, _ := json.Marshal(map[string]any{"Replace": map[string]string{filepath.Join(wd, "readmesample", "main.go"): file}})
	overlayFile := filepath.Join(dir, "overlay.json")
	if err := os.WriteFile(overlayFile, overlay, 0o644); err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "sample")
	build := exec.Command("go", "build", "-overlay", overlayFile, "-o", exe, "./readmesample")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("the README sample does not build: %v\n%s", err, out)
	}
	cmd := exec.Command(exe)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for i := 0; i < 200; i++ { // bounded: up to 20 s for the program to listen
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return "http://" + addr
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("the README sample did not start listening")
	return ""
}

func TestReadmeSampleAndExampleApp(t *testing.T) {
	sidecar := startDev(t, t.TempDir())
	sample := readmeSample(t)
	open := runSample(t, sample, sidecar.addr, "coresdk.FailOpen")
	closed := runSample(t, sample, sidecar.addr, "coresdk.FailClosed")
	client, err := coresdk.NewClient(coresdk.Config{SidecarAddr: sidecar.addr, Warn: func(string) {}})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	app := httptest.NewServer(newApp(client))
	defer app.Close()

	for _, base := range []string{open, closed} {
		res, body := call(t, base, "GET", "/me", sidecar.token)
		if res.StatusCode != 200 || body["claims"].(map[string]any)["sub"] != "dev-user" {
			t.Fatalf("%s /me: %d %v", base, res.StatusCode, body)
		}
		res, _ = call(t, base, "GET", "/me", "")
		if res.StatusCode != 401 || res.Header.Get("Content-Type") != "application/problem+json" || res.Header.Get("WWW-Authenticate") != `Bearer realm="coresdk"` {
			t.Fatalf("%s /me without a token: %d %v", base, res.StatusCode, res.Header)
		}
		res, body = call(t, base, "GET", "/documents/doc-1", sidecar.token)
		if res.StatusCode != 200 || body["allowed"] != true || body["revision"] == "" {
			t.Fatalf("%s /documents/doc-1: %d %v", base, res.StatusCode, body)
		}
	}
	// The example app: routes guarded by RequirePolicy against the example bundle.
	if res, body := call(t, app.URL, "GET", "/documents/doc-1", sidecar.token); res.StatusCode != 200 || body["reader"] != "dev-user" || body["document"] != "doc-1" {
		t.Fatalf("%d %v", res.StatusCode, body)
	}
	if res, _ := call(t, app.URL, "PUT", "/documents/doc-1", sidecar.token); res.StatusCode != 200 {
		t.Fatal(res.StatusCode)
	}
	if res, _ := call(t, app.URL, "GET", "/documents/doc-1", ""); res.StatusCode != 401 {
		t.Fatal(res.StatusCode)
	}
	if res, body := call(t, app.URL, "GET", "/decide", sidecar.token); res.StatusCode != 200 || body["allowed"] != true || body["revision"] == "" {
		t.Fatalf("%d %v", res.StatusCode, body)
	}

	sidecar.stop()
	if res, body := call(t, open, "GET", "/me", sidecar.token); res.StatusCode != 200 || body["claims"] != nil {
		t.Fatalf("fail-open: %d %v", res.StatusCode, body)
	}
	res, body := call(t, closed, "GET", "/me", sidecar.token)
	if res.StatusCode != 503 || res.Header.Get("Content-Type") != "application/problem+json" || body["code"] != "ERR_SIDECAR_UNAVAILABLE" || res.Header.Get("Retry-After") != "1" {
		t.Fatalf("fail-closed: %d %v %v", res.StatusCode, res.Header, body)
	}
	if res, body := call(t, app.URL, "GET", "/me", sidecar.token); res.StatusCode != 200 || body["claims"] != nil {
		t.Fatalf("the example, fail-open: %d %v", res.StatusCode, body)
	}
}
