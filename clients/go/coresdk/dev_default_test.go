package coresdk_test

// The documented development flow, as a new user runs it: `coresdk-sidecar
// --dev` (what `npx coresdk-sidecar --dev` runs: node dist/sidecar/cli.js)
// with no address, so it listens on its default [::1]:50051, and a client
// made with no address (coresdk.Config{}, and the docs' sample naming
// "[::1]:50051"), which reaches it there with the printed development token.
// The other tests use 127.0.0.1 and free ports; this one is the default.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coresdk/coresdk/clients/go/coresdk"
)

// defaultDev is a `coresdk-sidecar --dev` started on its default addresses.
type defaultDev struct {
	cmd   *exec.Cmd
	done  chan struct{}
	mu    sync.Mutex
	out   bytes.Buffer // stdout and stderr
	addr  string
	token string
}

// The --dev sidecar's default addresses: gRPC, and AuthZEN over HTTP.
var devDefaults = []string{"[::1]:50051", "[::1]:50080"}

// startDefaultDev runs `coresdk-sidecar --dev` in a temporary directory, its
// development key set in a temporary state directory (XDG_STATE_HOME), and
// waits for its address, its token and health SERVING. busy reports that a
// default address was taken (another run holds it).
func startDefaultDev(t *testing.T, state string) (s *defaultDev, busy bool, err error) {
	bin := filepath.Join(repoRoot, "dist", "sidecar", "cli.js")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s is missing: run `npm ci` (or `npm run build:ts`) at the repository root first", bin)
	}
	cmd := exec.Command("node", bin, "--dev")
	cmd.Dir = t.TempDir()
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CORESDK_") && !strings.HasPrefix(kv, "XDG_STATE_HOME=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "XDG_STATE_HOME="+state)
	s = &defaultDev{cmd: cmd, done: make(chan struct{})}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, false, err
	}
	cmd.Stderr = writerFunc(func(p []byte) (int, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.out.Write(p)
	})
	if err := cmd.Start(); err != nil {
		return nil, false, err
	}
	ready := make(chan struct{})
	go func() {
		defer close(s.done)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		wantToken, serving, signalled := false, false, false
		for sc.Scan() {
			line := sc.Text()
			s.mu.Lock()
			s.out.WriteString(line + "\n")
			var rec map[string]any
			if json.Unmarshal([]byte(line), &rec) == nil {
				switch rec["event"] {
				case "listening":
					s.addr, _ = rec["addr"].(string)
				case "serving":
					serving = true
				}
			} else if wantToken {
				s.token, wantToken = strings.TrimSpace(line), false
			} else if strings.HasPrefix(line, "Development token") {
				wantToken = true
			}
			if !signalled && s.addr != "" && s.token != "" && serving {
				signalled = true
				close(ready)
			}
			s.mu.Unlock()
		}
		_ = cmd.Wait()
	}()
	select {
	case <-ready:
		return s, false, nil
	case <-s.done:
		s.mu.Lock()
		defer s.mu.Unlock()
		out := s.out.String()
		return nil, strings.Contains(out, "ERR_BIND"), fmt.Errorf("the --dev sidecar exited before serving:\n%s", out)
	case <-time.After(60 * time.Second):
		s.stop()
		s.mu.Lock()
		defer s.mu.Unlock()
		return nil, false, fmt.Errorf("the --dev sidecar printed no address, token or serving line in 60 s:\n%s", s.out.String())
	}
}

func (s *defaultDev) stop() {
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

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// inUse says whether something listens on addr.
func inUse(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}

func TestDocumentedDevFlowOnTheDefaultAddress(t *testing.T) {
	if coresdk.DefaultSidecarAddr != "[::1]:50051" {
		t.Fatalf("the documented default address is [::1]:50051, the Go client's %s", coresdk.DefaultSidecarAddr)
	}
	// Other runs (the docs' samples, other languages' tests) use the same
	// addresses: wait for them to be free, and start again when another run
	// took one between the check and the start.
	state := t.TempDir()
	deadline := time.Now().Add(3 * time.Minute)
	var dev *defaultDev
	for dev == nil {
		for _, addr := range devDefaults {
			for inUse(addr) {
				if time.Now().After(deadline) {
					t.Fatalf("%s is in use by another process: this test needs the documented development addresses (%s)", addr, strings.Join(devDefaults, ", "))
				}
				time.Sleep(500 * time.Millisecond)
			}
		}
		s, busy, err := startDefaultDev(t, state)
		switch {
		case err == nil:
			dev = s
		case busy && time.Now().Before(deadline):
			time.Sleep(time.Second)
		default:
			t.Fatal(err)
		}
	}
	t.Cleanup(dev.stop)
	if dev.addr != coresdk.DefaultSidecarAddr {
		t.Fatalf("coresdk-sidecar --dev listens on %s, not the documented %s", dev.addr, coresdk.DefaultSidecarAddr)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// The zero Config (the documented development client) and the docs' sample.
	// Only the deadline is longer than the default, for a loaded machine.
	for _, cfg := range []coresdk.Config{
		{Timeout: 10 * time.Second},
		{SidecarAddr: "[::1]:50051", TenantID: "acme-corp", FailMode: coresdk.FailOpen, Timeout: 10 * time.Second},
	} {
		client, err := coresdk.NewClient(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if got := client.Config(); got.SidecarAddr != "[::1]:50051" || got.TenantID != "acme-corp" || got.FailMode != coresdk.FailOpen {
			t.Fatalf("%+v", got)
		}
		if h, err := client.Health(ctx); err != nil || h != coresdk.HealthServing {
			t.Fatalf("Health: %s %v", h, err)
		}
		v := client.VerifyToken(ctx, dev.token)
		if !v.Allowed || v.Degraded || v.Claims["sub"] != "dev-user" {
			t.Fatalf("VerifyToken: %+v", v)
		}
		r := client.Authorize(ctx, dev.token, "data.authz.allow",
			map[string]any{"action": "read", "resource": map[string]any{"type": "document", "id": "doc-1"}})
		if !r.Allowed || r.Degraded || r.Claims["sub"] != "dev-user" || r.Revision == "" {
			t.Fatalf("Authorize: %+v", r)
		}
		if s := client.Stats(); s.FailOpen != 0 {
			t.Fatalf("a fail-open happened: %+v", s)
		}
		_ = client.Close()
	}
}
