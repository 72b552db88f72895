package bench

// The Go middleware through the sidecar, side by side with the usual Go
// stacks, on the same tokens, key set and policy, in the same run:
//
//   - coresdk/verify+decide: coresdk.Middleware with WithPolicy: one Authorize
//     call to the sidecar (verify the token, then data.authz.allow) per request;
//   - coresdk/verify: coresdk.Middleware: one VerifyToken call per request;
//   - golang-jwt/verify: golang-jwt/jwt/v5 with a JWKS key func (the key set
//     fetched once over HTTPS, keys by kid), in process;
//   - golang-jwt+opa/verify+decide: the same verification, then OPA embedded as
//     a Go library (a rego.PreparedEvalQuery), in process.
//
// Each has a serial benchmark (ns/op, allocs/op in this process: the
// sidecar's own work is in another process and not counted) and a parallel
// one (RunParallel, 8 goroutines per GOMAXPROCS) that reports p50 and p99
// request latency. Run: cd bench/go && go test -run '^$' -bench . -benchmem

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coresdk/coresdk/clients/go/coresdk"
	"github.com/golang-jwt/jwt/v5"
	"github.com/open-policy-agent/opa/v1/rego"
)

// discard is a ResponseWriter that keeps only the status.
type discard struct {
	h      http.Header
	status int
}

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(s int)           { d.status = s }

var ok = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })

func readInput(*http.Request) (map[string]any, error) { return map[string]any{"action": "read"}, nil }

// ---------------------------------------------------------------- golang-jwt with a JWKS key func

var errUnknownKid = errors.New("unknown kid")

// jwksKeyFunc fetches the key set once over HTTPS and looks keys up by kid.
func jwksKeyFunc(e *env) (jwt.Keyfunc, error) {
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: e.caPool}}}
	res, err := hc.Get(e.jwksURL)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	var set struct {
		Keys []struct{ Kty, Crv, X, Y, Kid string } `json:"keys"`
	}
	if err := json.NewDecoder(res.Body).Decode(&set); err != nil {
		return nil, err
	}
	keys := map[string]*ecdsa.PublicKey{}
	for _, k := range set.Keys {
		if k.Kty != "EC" || k.Crv != "P-256" {
			continue
		}
		x, err1 := base64.RawURLEncoding.DecodeString(k.X)
		y, err2 := base64.RawURLEncoding.DecodeString(k.Y)
		if err1 != nil || err2 != nil || len(x) != 32 || len(y) != 32 {
			continue
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
		if err != nil {
			continue
		}
		keys[k.Kid] = pub
	}
	return func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		if k, ok := keys[kid]; ok {
			return k, nil
		}
		return nil, errUnknownKid
	}, nil
}

func bearerToken(r *http.Request) string {
	const p = "Bearer "
	h := r.Header.Get("Authorization")
	if len(h) > len(p) && h[:len(p)] == p {
		return h[len(p):]
	}
	return ""
}

type claimsKey struct{}

// jwtMiddleware verifies the bearer token in process (golang-jwt), then asks decide, if any.
func jwtMiddleware(kf jwt.Keyfunc, decide func(ctx context.Context, claims jwt.MapClaims) bool) func(http.Handler) http.Handler {
	parser := jwt.NewParser(jwt.WithValidMethods([]string{"ES256"}), jwt.WithIssuer(issuer), jwt.WithAudience(audience),
		jwt.WithExpirationRequired(), jwt.WithLeeway(30*time.Second))
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			claims := jwt.MapClaims{}
			if _, err := parser.ParseWithClaims(bearerToken(r), claims, kf); err != nil {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			if decide != nil && !decide(r.Context(), claims) {
				w.WriteHeader(http.StatusForbidden)
				return
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), claimsKey{}, claims)))
		})
	}
}

// opaDecide prepares data.authz.allow once (OPA as a Go library) and evaluates it per request.
func opaDecide() (func(context.Context, jwt.MapClaims) bool, error) {
	pq, err := rego.New(rego.Query("data.authz.allow"), rego.Module("authz.rego", policy)).PrepareForEval(context.Background())
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, claims jwt.MapClaims) bool {
		rs, err := pq.Eval(ctx, rego.EvalInput(map[string]any{"claims": map[string]any(claims), "action": "read"}))
		return err == nil && rs.Allowed()
	}, nil
}

// ---------------------------------------------------------------- the stacks

type stack struct {
	name    string
	handler http.Handler
}

var (
	stacksOnce sync.Once
	allStacks  []stack
	stacksErr  error
	client     *coresdk.Client
)

func stacks(b testing.TB) []stack {
	e := world(b)
	stacksOnce.Do(func() {
		client, stacksErr = coresdk.NewClient(coresdk.Config{
			SidecarAddr: e.sidecarAddr, FailMode: coresdk.FailClosed, Timeout: 5 * time.Second,
			TLSCAFile: e.caFile, TLSCertFile: e.clientCertFile, TLSKeyFile: e.clientKeyF, TLSServerName: "localhost",
		})
		if stacksErr != nil {
			return
		}
		var kf jwt.Keyfunc
		if kf, stacksErr = jwksKeyFunc(e); stacksErr != nil {
			return
		}
		var decide func(context.Context, jwt.MapClaims) bool
		if decide, stacksErr = opaDecide(); stacksErr != nil {
			return
		}
		allStacks = []stack{
			{"coresdk/verify+decide", coresdk.Middleware(client, coresdk.WithPolicy("data.authz.allow", readInput))(ok)},
			{"coresdk/verify", coresdk.Middleware(client)(ok)},
			{"golang-jwt/verify", jwtMiddleware(kf, nil)(ok)},
			{"golang-jwt+opa/verify+decide", jwtMiddleware(kf, decide)(ok)},
		}
	})
	if stacksErr != nil {
		b.Fatal(stacksErr)
	}
	return allStacks
}

func request(token string) *http.Request {
	r := httptest.NewRequest("GET", "/orders/1", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	return r
}

// TestStacksAgree: every stack gives the same verdicts on the same tokens.
func TestStacksAgree(t *testing.T) {
	e := world(t)
	for _, s := range stacks(t) {
		for _, tc := range []struct {
			token string
			want  int
		}{{e.reader, 200}, {e.admin, 200}, {"not-a-jwt", 401}, {e.reader[:len(e.reader)-4] + "AAAA", 401}} {
			d := &discard{h: http.Header{}, status: 200}
			s.handler.ServeHTTP(d, request(tc.token))
			if d.status != tc.want {
				t.Errorf("%s: %d, want %d", s.name, d.status, tc.want)
			}
		}
	}
}

// tokenSets: one token again and again (the sidecar's verified-token cache
// hits), or distinct tokens round robin (every verification is a miss).
func tokenSets(e *env) []struct {
	name   string
	tokens []string
} {
	return []struct {
		name   string
		tokens []string
	}{{"same-token", []string{e.reader}}, {"distinct-tokens", e.distinct}}
}

func BenchmarkSerial(b *testing.B) {
	e := world(b)
	for _, ts := range tokenSets(e) {
		reqs := make([]*http.Request, len(ts.tokens))
		for i, t := range ts.tokens {
			reqs[i] = request(t)
		}
		for _, s := range stacks(b) {
			b.Run(ts.name+"/"+s.name, func(b *testing.B) {
				d := &discard{h: http.Header{}}
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					d.status = 200
					s.handler.ServeHTTP(d, reqs[i%len(reqs)])
					if d.status != 200 {
						b.Fatalf("status %d", d.status)
					}
				}
			})
		}
	}
}

func BenchmarkParallel(b *testing.B) {
	e := world(b)
	for _, ts := range tokenSets(e) {
		reqs := make([]*http.Request, len(ts.tokens))
		for i, t := range ts.tokens {
			reqs[i] = request(t)
		}
		for _, s := range stacks(b) {
			b.Run(ts.name+"/"+s.name, func(b *testing.B) {
				var mu sync.Mutex
				var all []time.Duration
				var next atomic.Int64
				b.ReportAllocs()
				b.SetParallelism(8)
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					d := &discard{h: http.Header{}}
					lat := make([]time.Duration, 0, 1024)
					for pb.Next() {
						r := reqs[int(next.Add(1))%len(reqs)]
						d.status = 200
						t0 := time.Now()
						s.handler.ServeHTTP(d, r)
						lat = append(lat, time.Since(t0))
						if d.status != 200 {
							panic(fmt.Sprintf("status %d", d.status))
						}
					}
					mu.Lock()
					all = append(all, lat...)
					mu.Unlock()
				})
				b.StopTimer()
				if len(all) > 0 {
					slices.Sort(all)
					q := func(p float64) float64 { return float64(all[min(len(all)-1, int(p*float64(len(all))))].Nanoseconds()) }
					b.ReportMetric(q(0.50), "p50-ns")
					b.ReportMetric(q(0.99), "p99-ns")
				}
			})
		}
	}
}
