package coresdk_test

// The Client against the repository's real sidecar (mutual TLS, HTTPS JWKS):
// every method, and every row of the fail-mode table.

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coresdk/coresdk/clients/go/coresdk"
)

var ctx = context.Background()

func TestAuthorizeAllowsWithClaims(t *testing.T) {
	c := w.client(t, "up", coresdk.FailOpen)
	r := c.Authorize(ctx, w.tokens["valid"], "", map[string]any{"action": "read"})
	if !r.Allowed || r.Reason != "allowed" || r.Degraded || r.Err != nil {
		t.Fatalf("%+v", r)
	}
	if r.Claims["sub"] != "user-1" || !r.Defined || r.Value != true || r.Revision == "" || r.Alg != "ES256" {
		t.Fatalf("%+v", r)
	}
}

func TestAuthorizeDeniesAsAnAnswer(t *testing.T) {
	c := w.client(t, "up", coresdk.FailClosed)
	r := c.Authorize(ctx, w.tokens["valid"], "data.authz.allow", map[string]any{"action": "write"})
	if r.Allowed || r.Reason != "denied" || r.Err != nil || r.Claims["sub"] != "user-1" {
		t.Fatalf("%+v", r)
	}
}

func TestARejectedTokenIsNeverAllowed(t *testing.T) {
	kinds := map[string]coresdk.Code{
		"expired":        coresdk.CodeTokenExpired,
		"wrong_audience": coresdk.CodeTokenClaim,
		"wrong_issuer":   coresdk.CodeTokenClaim,
		"tampered":       coresdk.CodeTokenSignature,
		"unknown_key":    coresdk.CodeTokenUnknownKey,
	}
	for _, fm := range []coresdk.FailMode{coresdk.FailOpen, coresdk.FailClosed} {
		c := w.client(t, "up", fm)
		for kind, code := range kinds {
			token := w.tokens[kind]
			for _, r := range []coresdk.AuthorizeResult{c.Authorize(ctx, token, "", nil), c.VerifyToken(ctx, token)} {
				if r.Allowed || r.Degraded || r.Claims != nil || r.Reason != string(code) {
					t.Fatalf("%s/%s: %+v", fm, kind, r)
				}
				if r.Err == nil || r.Err.Code != code || r.Err.RFC6750Error() != "invalid_token" {
					t.Fatalf("%s/%s: %v", fm, kind, r.Err)
				}
				if strings.Contains(r.Err.Error(), token) || strings.Contains(fmt.Sprintf("%+v %#v", r.Err, r.Err), token) {
					t.Fatal("the token is in the error")
				}
			}
		}
		if s := c.Stats(); s.FailOpen != 0 || s.FailClosed != 0 {
			t.Fatalf("%+v", s)
		}
	}
}

func TestVerifyToken(t *testing.T) {
	c := w.client(t, "up", coresdk.FailOpen)
	r := c.VerifyToken(ctx, w.tokens["admin"])
	if !r.Allowed || r.Claims["role"] != "admin" {
		t.Fatalf("%+v", r)
	}
	if r := c.VerifyToken(ctx, "not-a-jwt"); r.Reason != string(coresdk.CodeTokenMalformed) || r.Allowed {
		t.Fatalf("%+v", r)
	}
}

func TestEvaluatePolicyIsAllowedAndBatches(t *testing.T) {
	c := w.client(t, "up", coresdk.FailOpen)
	d, err := c.EvaluatePolicy(ctx, "data.authz.allow", map[string]any{"action": "read", "claims": map[string]any{"role": "reader"}})
	if err != nil || !d.Allowed || !d.Defined || d.Value != true || d.Revision == "" {
		t.Fatalf("%+v %v", d, err)
	}
	d2, err := c.EvaluatePolicy(ctx, "data.authz.allow", map[string]any{"action": "write", "claims": map[string]any{"role": "reader"}})
	if err != nil || d2.Allowed || !d2.Defined || d2.Value != false {
		t.Fatalf("%+v %v", d2, err)
	}
	// A struct input is JSON too.
	type claims struct {
		Role string `json:"role"`
	}
	in := struct {
		Claims claims `json:"claims"`
	}{claims{"admin"}}
	if r := c.IsAllowed(ctx, "data.authz.allow", in); !r.Allowed || r.Reason != "allowed" || r.Revision == "" {
		t.Fatalf("%+v", r)
	}
	if r := c.IsAllowed(ctx, "data.authz.allow", map[string]any{}); r.Allowed || r.Reason != "denied" {
		t.Fatalf("%+v", r)
	}
	// Outside --dev a path that is not a rule is refused (the sidecar does not tell a
	// missing document from a withheld one): an answer, never a fail-open.
	if r := c.IsAllowed(ctx, "data.authz.nothing_here", map[string]any{}); r.Allowed || r.Reason != string(coresdk.CodeQueryNotAllowed) || r.Err == nil {
		t.Fatalf("%+v", r)
	}
	items, err := c.EvaluatePolicies(ctx, []coresdk.PolicyQuery{
		{Query: "data.authz.allow", Input: map[string]any{"claims": map[string]any{"role": "admin"}}},
		{Query: "data.authz.allow", Input: map[string]any{"claims": map[string]any{"role": "nobody"}}},
		{Query: "not a query ((", Input: map[string]any{}},
	})
	if err != nil || len(items) != 3 {
		t.Fatalf("%v %v", items, err)
	}
	if !items[0].OK() || !items[0].Decision.Allowed || !items[1].OK() || items[1].Decision.Allowed {
		t.Fatalf("%+v", items)
	}
	if items[0].Decision.Revision != d.Revision {
		t.Fatalf("revision %q vs %q", items[0].Decision.Revision, d.Revision)
	}
	if items[2].OK() || items[2].Err.Code != coresdk.CodeQueryNotAllowed {
		t.Fatalf("%+v", items[2])
	}
}

func TestEvaluatePolicyErrorsAreTyped(t *testing.T) {
	c := w.client(t, "up", coresdk.FailOpen)
	// Outside --dev the sidecar serves its bundle's rules only: a general
	// query (malformed or not) is refused before it is parsed.
	for _, q := range []string{"not a query ((", "x := data"} {
		_, err := c.EvaluatePolicy(ctx, q, map[string]any{})
		var e *coresdk.Error
		if !errors.As(err, &e) || e.Code != coresdk.CodeQueryNotAllowed || e.Message == "" {
			t.Fatalf("%q: %v", q, err)
		}
	}
	d, err := c.EvaluatePolicy(ctx, "data.authz.allow", "a string input is JSON too")
	if err != nil || !d.Defined || d.Value != false {
		t.Fatalf("%+v %v", d, err)
	}
	if h, err := c.Health(ctx); err != nil || h != coresdk.HealthServing {
		t.Fatalf("%v %v", h, err)
	}
}

func TestInputsJSONCannotCarryAreTypedErrors(t *testing.T) {
	c := w.client(t, "up", coresdk.FailOpen)
	cyclic := map[string]any{}
	cyclic["self"] = cyclic
	for name, tc := range map[string]struct {
		input any
		code  coresdk.Code
	}{
		"func":    {map[string]any{"x": func() {}}, coresdk.CodeInputInvalid},
		"channel": {map[string]any{"x": make(chan int)}, coresdk.CodeInputInvalid},
		"NaN":     {map[string]any{"x": math.NaN()}, coresdk.CodeInputInvalid},
		"cycle":   {cyclic, coresdk.CodeInputTooDeep},
	} {
		_, err := c.EvaluatePolicy(ctx, "data.authz.allow", tc.input)
		if coresdk.CodeOf(err) != tc.code {
			t.Fatalf("%s: %v", name, err)
		}
		if r := c.Authorize(ctx, w.tokens["valid"], "", tc.input); r.Allowed || r.Reason != string(tc.code) || r.Degraded {
			t.Fatalf("%s: %+v", name, r)
		}
	}
	if r := c.Authorize(ctx, w.tokens["valid"], "", []int{1, 2}); r.Reason != string(coresdk.CodeInputInvalid) {
		t.Fatalf("a non-object authorize input: %+v", r)
	}
}

func TestDeepAndOversizedInputsAreTypedErrors(t *testing.T) {
	c := w.client(t, "up", coresdk.FailOpen)
	var nested any = []any{1}
	for i := 0; i < 300; i++ {
		nested = []any{nested}
	}
	_, err := c.EvaluatePolicy(ctx, "data.authz.allow", map[string]any{"a": nested})
	if coresdk.CodeOf(err) != coresdk.CodeInputTooDeep {
		t.Fatalf("%v", err) // JSON can carry it; the sidecar's depth limit refuses it
	}
	for _, size := range []int{5 << 20, 20 << 20} {
		blob := map[string]any{"blob": strings.Repeat("x", size)}
		_, err := c.EvaluatePolicy(ctx, "data.authz.allow", blob)
		if code := coresdk.CodeOf(err); code != coresdk.CodeInputTooLarge && code != coresdk.CodeMessageTooLarge {
			t.Fatalf("%d: %v", size, err)
		}
		r := c.Authorize(ctx, w.tokens["valid"], "", blob)
		if r.Allowed || r.Degraded || (r.Reason != string(coresdk.CodeInputTooLarge) && r.Reason != string(coresdk.CodeMessageTooLarge)) {
			t.Fatalf("%d: %+v", size, r)
		}
	}
	if h, _ := c.Health(ctx); h != coresdk.HealthServing || c.Stats().Breaker != coresdk.BreakerClosed {
		t.Fatalf("%v %+v", h, c.Stats())
	}
}

func TestClaimsInAuthorizeInputAreRefused(t *testing.T) {
	c := w.client(t, "up", coresdk.FailOpen)
	r := c.Authorize(ctx, w.tokens["valid"], "", map[string]any{"claims": map[string]any{"role": "admin"}, "action": "write"})
	if r.Allowed || r.Reason != string(coresdk.CodeInputInvalid) {
		t.Fatalf("%+v", r)
	}
}

func TestUnknownTenantIsAnAnswer(t *testing.T) {
	c := w.client(t, "up", coresdk.FailOpen, func(cfg *coresdk.Config) { cfg.TenantID = "globex" })
	r := c.Authorize(ctx, w.tokens["valid"], "", nil)
	if r.Allowed || r.Reason != string(coresdk.CodeUnknownTenant) || r.Degraded {
		t.Fatalf("%+v", r)
	}
	_, err := c.EvaluatePolicy(ctx, "data.authz.allow", map[string]any{})
	if !errors.Is(err, coresdk.ErrUnknownTenant) {
		t.Fatalf("%v", err)
	}
	// WithTenant names the configured tenant for one call.
	if r := c.Authorize(ctx, w.tokens["admin"], "", nil, coresdk.WithTenant("acme-corp")); !r.Allowed {
		t.Fatalf("%+v", r)
	}
}

func TestMaskPII(t *testing.T) {
	c := w.client(t, "up", coresdk.FailOpen)
	out, err := c.MaskPII(ctx, []string{"write to alice@example.com", "nothing here"})
	if err != nil || len(out) != 2 || out[1] != "nothing here" || strings.Contains(out[0], "alice@example.com") {
		t.Fatalf("%q %v", out, err)
	}
}

func TestIntruderCertificateAndPlaintextAreTransportFailures(t *testing.T) {
	c := w.client(t, "up", coresdk.FailClosed, func(cfg *coresdk.Config) {
		cfg.TLSCertFile, cfg.TLSKeyFile = w.pki.intruderCert, w.pki.intruderKey
	})
	r := c.Authorize(ctx, w.tokens["valid"], "", nil)
	if r.Allowed || r.Reason != string(coresdk.CodeSidecarUnavailable) || c.Stats().FailClosed != 1 {
		t.Fatalf("%+v %+v", r, c.Stats())
	}
	plain, err := coresdk.NewClient(coresdk.Config{SidecarAddr: w.sidecar.addr, FailMode: coresdk.FailOpen, Timeout: 2 * time.Second, Warn: func(string) {}})
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	r = plain.Authorize(ctx, w.tokens["valid"], "", nil)
	if !r.Allowed || !r.Degraded || r.Claims != nil || r.Reason != "fail-open" {
		t.Fatalf("%+v", r)
	}
}

func TestFailOpenWarnsAtMostEveryTenSecondsAndCounts(t *testing.T) {
	var mu sync.Mutex
	var warnings []string
	c := w.client(t, "down", coresdk.FailOpen, func(cfg *coresdk.Config) {
		cfg.BreakerFailureThreshold = 100
		cfg.Warn = func(m string) { mu.Lock(); warnings = append(warnings, m); mu.Unlock() }
	})
	for i := 0; i < 3; i++ {
		r := c.Authorize(ctx, w.tokens["valid"], "", nil)
		if !r.Allowed || !r.Degraded || r.Claims != nil || r.Reason != "fail-open" || r.Err.Code != coresdk.CodeSidecarUnavailable {
			t.Fatalf("%+v", r)
		}
	}
	if c.Stats().FailOpen != 3 || len(warnings) != 1 {
		t.Fatalf("%+v %q", c.Stats(), warnings)
	}
	if !strings.Contains(warnings[0], "ERR_SIDECAR_UNAVAILABLE") || strings.Contains(warnings[0], w.tokens["valid"]) {
		t.Fatal(warnings[0])
	}
	_, err := c.EvaluatePolicy(ctx, "data.authz.allow", map[string]any{})
	if !errors.Is(err, coresdk.ErrSidecarUnavailable) {
		t.Fatalf("%v", err)
	}
	if r := c.IsAllowed(ctx, "data.authz.allow", map[string]any{}); !r.Allowed || !r.Degraded {
		t.Fatalf("%+v", r)
	}
	if _, err := c.MaskPII(ctx, []string{"x"}); !errors.Is(err, coresdk.ErrSidecarUnavailable) {
		t.Fatalf("%v", err)
	}
	if _, err := c.EvaluatePolicies(ctx, []coresdk.PolicyQuery{{Query: "data.authz.allow"}}); !errors.Is(err, coresdk.ErrSidecarUnavailable) {
		t.Fatalf("%v", err)
	}
	if h, err := c.Health(ctx); h != coresdk.HealthUnreachable || err != nil {
		t.Fatalf("%v %v", h, err)
	}
}

func TestFailClosedDeniesAndCounts(t *testing.T) {
	c := w.client(t, "down", coresdk.FailClosed)
	r := c.Authorize(ctx, w.tokens["valid"], "", nil)
	if r.Allowed || r.Degraded || r.Reason != string(coresdk.CodeSidecarUnavailable) || !r.Err.IsTransportFailure() {
		t.Fatalf("%+v", r)
	}
	if r := c.IsAllowed(ctx, "data.authz.allow", nil); r.Allowed || r.Reason != string(coresdk.CodeSidecarUnavailable) {
		t.Fatalf("%+v", r)
	}
	if c.Stats().FailClosed != 2 || c.Stats().FailOpen != 0 {
		t.Fatalf("%+v", c.Stats())
	}
}

func TestKeylessSidecarIsAnAnswerInBothModes(t *testing.T) {
	for _, fm := range []coresdk.FailMode{coresdk.FailOpen, coresdk.FailClosed} {
		c := w.client(t, "keyless", fm)
		r := c.VerifyToken(ctx, w.tokens["valid"])
		if r.Allowed || r.Degraded || r.Reason != string(coresdk.CodeJWKSUnavailable) {
			t.Fatalf("%s: %+v", fm, r)
		}
		if h, err := c.Health(ctx); h != coresdk.HealthNotServing || err != nil {
			t.Fatalf("%s: %v %v", fm, h, err)
		}
		if s := c.Stats(); s.FailOpen != 0 || s.FailClosed != 0 || s.Breaker != coresdk.BreakerClosed {
			t.Fatalf("%s: %+v", fm, s)
		}
	}
}

func TestTheBreakerOpensAndFailsFast(t *testing.T) {
	c := w.client(t, "down", coresdk.FailClosed, func(cfg *coresdk.Config) { cfg.Retries = coresdk.NoRetries })
	for i := 0; i < 5; i++ {
		if r := c.Authorize(ctx, w.tokens["valid"], "", nil); r.Reason != string(coresdk.CodeSidecarUnavailable) {
			t.Fatalf("%+v", r)
		}
	}
	if c.Stats().Breaker != coresdk.BreakerOpen {
		t.Fatalf("%+v", c.Stats())
	}
	r := c.Authorize(ctx, w.tokens["valid"], "", nil)
	if r.Err == nil || !strings.Contains(r.Err.Message, "circuit open") {
		t.Fatalf("%+v", r)
	}
}

func TestASlowSidecarIsATimeout(t *testing.T) {
	c := w.client(t, "slow", coresdk.FailClosed)
	r := c.Authorize(ctx, w.tokens["valid"], "", nil)
	if r.Allowed || r.Reason != string(coresdk.CodeSidecarTimeout) || !errors.Is(r.Err, context.DeadlineExceeded) {
		t.Fatalf("%+v", r)
	}
	r = c.VerifyToken(ctx, w.tokens["valid"], coresdk.WithTimeout(100*time.Millisecond))
	if !errors.Is(r.Err, coresdk.ErrSidecarTimeout) {
		t.Fatalf("%+v", r)
	}
	// A context deadline sooner than the configured timeout wins.
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := c.EvaluatePolicy(short, "data.authz.allow", nil); !errors.Is(err, coresdk.ErrSidecarTimeout) {
		t.Fatalf("%v", err)
	}
	open := w.client(t, "slow", coresdk.FailOpen)
	if r := open.Authorize(ctx, w.tokens["valid"], "", nil); !r.Allowed || !r.Degraded || r.Claims != nil {
		t.Fatalf("%+v", r)
	}
}

func TestACancelledCallIsAbortedAndFreesTheHalfOpenProbe(t *testing.T) {
	c := w.client(t, "slow", coresdk.FailClosed, func(cfg *coresdk.Config) {
		cfg.BreakerFailureThreshold = 1
		cfg.BreakerReset = time.Millisecond
		cfg.Timeout = 5 * time.Second
	})
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := c.EvaluatePolicy(short, "data.authz.allow", nil); !errors.Is(err, coresdk.ErrSidecarTimeout) {
		t.Fatalf("%v", err)
	}
	time.Sleep(5 * time.Millisecond) // past the reset: half-open
	cctx, cancel2 := context.WithCancel(ctx)
	go func() { time.Sleep(50 * time.Millisecond); cancel2() }()
	_, err := c.EvaluatePolicy(cctx, "data.authz.allow", nil)
	if !errors.Is(err, coresdk.ErrAborted) || !errors.Is(err, context.Canceled) {
		t.Fatalf("%v", err)
	}
	// The probe was released: the next call goes out (and times out) instead of failing fast.
	short3, cancel3 := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel3()
	if _, err := c.EvaluatePolicy(short3, "data.authz.allow", nil); !errors.Is(err, coresdk.ErrSidecarTimeout) {
		t.Fatalf("%v", err)
	}
	done, cancel4 := context.WithCancel(ctx)
	cancel4()
	if r := c.Authorize(done, w.tokens["valid"], "", nil); r.Reason != string(coresdk.CodeAborted) || r.Allowed {
		t.Fatalf("%+v", r)
	}
}

func TestClosedClientAndBadCallOptions(t *testing.T) {
	c, err := coresdk.NewClient(w.config("up", coresdk.FailOpen))
	if err != nil {
		t.Fatal(err)
	}
	if h, _ := c.Health(ctx); h != coresdk.HealthServing {
		t.Fatal(h)
	}
	if _, err := c.EvaluatePolicy(ctx, "data.authz.allow", nil, coresdk.WithTimeout(-time.Second)); !errors.Is(err, coresdk.ErrConfig) {
		t.Fatalf("%v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.EvaluatePolicy(ctx, "data.authz.allow", nil); !errors.Is(err, coresdk.ErrEngineClosed) {
		t.Fatalf("%v", err)
	}
	if r := c.Authorize(ctx, w.tokens["valid"], "", nil); r.Reason != string(coresdk.CodeEngineClosed) || r.Allowed {
		t.Fatalf("%+v", r)
	}
	if _, err := c.Health(ctx); !errors.Is(err, coresdk.ErrEngineClosed) {
		t.Fatalf("%v", err)
	}
}

func TestPlaintextOverAUnixSocket(t *testing.T) {
	dir, err := os.MkdirTemp("", "csdk")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "s.sock")
	env := map[string]string{
		"CORESDK_SIDECAR_ADDR":         "unix:" + sock,
		"CORESDK_SIDECAR_INSECURE_DEV": "true",
		"CORESDK_POLICY_DIR":           filepath.Join(w.dir, "bundle"),
		"CORESDK_ISSUER":               w.cases.Setup.Issuer,
		"CORESDK_AUDIENCE":             w.cases.Setup.Audience,
		"CORESDK_JWKS_CA_FILE":         w.pki.caFile,
		"CORESDK_JWKS_URL":             w.jwks.URL + "/jwks",
	}
	s, err := startSidecar(env, true)
	if err != nil {
		t.Fatal(err)
	}
	defer s.stop()
	c, err := coresdk.NewClient(coresdk.Config{SidecarAddr: "unix:" + sock, FailMode: coresdk.FailClosed, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if r := c.Authorize(ctx, w.tokens["admin"], "", nil); !r.Allowed || r.Claims["sub"] != "admin-1" {
		t.Fatalf("%+v", r)
	}
}

func TestRecoversWhenTheSidecarComesBack(t *testing.T) {
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	c := w.client(t, "up", coresdk.FailClosed, func(cfg *coresdk.Config) {
		cfg.SidecarAddr = addr
		cfg.BreakerFailureThreshold = 1
		cfg.BreakerReset = 50 * time.Millisecond
		cfg.Timeout = 5 * time.Second
	})
	if r := c.VerifyToken(ctx, w.tokens["valid"]); r.Reason != string(coresdk.CodeSidecarUnavailable) {
		t.Fatalf("%+v", r)
	}
	env := map[string]string{
		"CORESDK_SIDECAR_ADDR":               addr,
		"CORESDK_POLICY_DIR":                 filepath.Join(w.dir, "bundle"),
		"CORESDK_ISSUER":                     w.cases.Setup.Issuer,
		"CORESDK_AUDIENCE":                   w.cases.Setup.Audience,
		"CORESDK_JWKS_CA_FILE":               w.pki.caFile,
		"CORESDK_JWKS_URL":                   w.jwks.URL + "/jwks",
		"CORESDK_SIDECAR_TLS_CERT_FILE":      w.pki.serverCert,
		"CORESDK_SIDECAR_TLS_KEY_FILE":       w.pki.serverKey,
		"CORESDK_SIDECAR_TLS_CLIENT_CA_FILE": w.pki.caFile,
	}
	s, err := startSidecar(env, true)
	if err != nil {
		t.Fatal(err)
	}
	defer s.stop()
	// Bounded: the breaker's reset and gRPC's reconnect backoff (at most 2 s) pass within a few seconds.
	for i := 0; i < 100; i++ {
		r := c.VerifyToken(ctx, w.tokens["valid"])
		if r.Allowed {
			if c.Stats().Breaker != coresdk.BreakerClosed {
				t.Fatalf("%+v", c.Stats())
			}
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("the client did not recover")
}

func TestConcurrentCallsEachGetTheirOwnAnswer(t *testing.T) {
	c := w.client(t, "up", coresdk.FailClosed)
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			kind, want := "valid", "user-1"
			if i%2 == 1 {
				kind, want = "admin", "admin-1"
			}
			r := c.VerifyToken(ctx, w.tokens[kind])
			if !r.Allowed || r.Claims["sub"] != want {
				errs <- fmt.Sprintf("%d: %+v", i, r)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func TestNoTokenInErrors(t *testing.T) {
	c := w.client(t, "down", coresdk.FailClosed)
	r := c.Authorize(ctx, w.tokens["valid"], "", nil)
	if strings.Contains(r.Err.Error(), w.tokens["valid"]) {
		t.Fatal("the token is in the error")
	}
}
