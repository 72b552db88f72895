package coresdk

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"

	pb "github.com/coresdk/coresdk/clients/go/internal/gen/coresdkv1"
)

// DefaultQuery is the query Authorize evaluates when given "".
const DefaultQuery = "data.authz.allow"

const (
	sidecarErrorDomain = "coresdk.dev"
	maxMessageBytes    = 16 << 20
	warnEvery          = 10 * time.Second
)

// Claims are a verified token's claims (a JSON object).
type Claims = map[string]any

// Client talks to the CoreSDK sidecar over one reused gRPC connection
// (mutual TLS 1.3 when TLS files are configured). It is safe for concurrent
// use. Every call takes a context: its cancellation ends the call
// (ERR_ABORTED), and a deadline sooner than Config.Timeout wins.
//
// The fail mode applies to one situation only, the sidecar could not be
// reached (connection or TLS refused, no answer within the deadline, breaker
// open). A status carrying the sidecar's ErrorInfo is an answer and is never
// turned into an allow.
type Client struct {
	cfg     Config
	conn    *grpc.ClientConn
	stub    pb.CoreSDKClient
	health  healthpb.HealthClient
	breaker *breaker

	closed     atomic.Bool
	failOpen   atomic.Int64
	failClosed atomic.Int64
	warnMu     sync.Mutex
	lastWarn   time.Time
}

// NewClient validates cfg (zero fields take their defaults), reads the TLS
// files, and prepares the connection (it is made on the first call, so
// NewClient succeeds while the sidecar is still starting). Errors are
// ERR_CONFIG naming the key.
func NewClient(cfg Config) (*Client, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	var creds credentials.TransportCredentials
	if cfg.usesTLS() {
		if cfg.TLSCAFile == "" || cfg.TLSCertFile == "" || cfg.TLSKeyFile == "" {
			return nil, newError(CodeConfig, "CORESDK_TLS_CA_FILE, CORESDK_TLS_CERT_FILE and CORESDK_TLS_KEY_FILE go together: the sidecar requires a client certificate")
		}
		tlsCfg, err := loadTLS(cfg)
		if err != nil {
			return nil, err
		}
		creds = credentials.NewTLS(tlsCfg)
	} else if !isLocal(cfg.SidecarAddr) {
		return nil, newError(CodeConfig, "CORESDK_SIDECAR_ADDR: %s is not loopback; the sidecar there needs mutual TLS (set CORESDK_TLS_CA_FILE, CORESDK_TLS_CERT_FILE, CORESDK_TLS_KEY_FILE)", cfg.SidecarAddr)
	} else {
		creds = insecure.NewCredentials()
	}
	target := cfg.SidecarAddr
	if !strings.HasPrefix(target, "unix:") {
		// No DNS round trip for the usual literal addresses; names still resolve.
		target = "passthrough:///" + target
	}
	bo := backoff.DefaultConfig
	// A local sidecar that restarts is back within a second or two, not after gRPC's 120 s ceiling.
	bo.BaseDelay, bo.MaxDelay = 100*time.Millisecond, 2*time.Second
	conn, err := grpc.NewClient(target,
		grpc.WithTransportCredentials(creds),
		grpc.WithConnectParams(grpc.ConnectParams{Backoff: bo, MinConnectTimeout: 20 * time.Second}),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 30 * time.Second, Timeout: 10 * time.Second}),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMessageBytes), grpc.MaxCallSendMsgSize(maxMessageBytes)),
		// Retries are ours (UNAVAILABLE only, bounded by the call's deadline).
		grpc.WithDisableRetry(),
		grpc.WithUserAgent("coresdk-go/"+Version),
	)
	if err != nil {
		return nil, newError(CodeConfig, "CORESDK_SIDECAR_ADDR: %s: %v", cfg.SidecarAddr, err)
	}
	return &Client{
		cfg:     cfg,
		conn:    conn,
		stub:    pb.NewCoreSDKClient(conn),
		health:  healthpb.NewHealthClient(conn),
		breaker: newBreaker(cfg.BreakerFailureThreshold, cfg.BreakerReset),
	}, nil
}

// Version is the Go SDK's version.
const Version = "0.1.0"

func loadTLS(cfg Config) (*tls.Config, error) {
	ca, err := os.ReadFile(cfg.TLSCAFile)
	if err != nil {
		return nil, newError(CodeConfig, "CORESDK_TLS_CA_FILE: cannot read %s: %v", cfg.TLSCAFile, unwrapPath(err))
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, newError(CodeConfig, "CORESDK_TLS_CA_FILE: %s holds no PEM certificate", cfg.TLSCAFile)
	}
	if _, err := os.Stat(cfg.TLSCertFile); err != nil {
		return nil, newError(CodeConfig, "CORESDK_TLS_CERT_FILE: cannot read %s: %v", cfg.TLSCertFile, unwrapPath(err))
	}
	if _, err := os.Stat(cfg.TLSKeyFile); err != nil {
		return nil, newError(CodeConfig, "CORESDK_TLS_KEY_FILE: cannot read %s: %v", cfg.TLSKeyFile, unwrapPath(err))
	}
	pair, err := tls.LoadX509KeyPair(cfg.TLSCertFile, cfg.TLSKeyFile)
	if err != nil {
		// The crypto/tls message names no key material.
		return nil, newError(CodeConfig, "CORESDK_TLS_CERT_FILE / CORESDK_TLS_KEY_FILE: %v", err)
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		RootCAs:      pool,
		Certificates: []tls.Certificate{pair},
		ServerName:   cfg.TLSServerName,
	}, nil
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func isLocal(addr string) bool {
	if strings.HasPrefix(addr, "unix:") {
		return true
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Config returns the effective configuration (defaults filled in).
func (c *Client) Config() Config { return c.cfg }

// CallOption changes one call.
type CallOption func(*callOptions)

type callOptions struct {
	tenant    *string
	timeout   time.Duration
	hasTenant bool
}

// WithTenant names another tenant for this call ("" means the sidecar's default tenant).
func WithTenant(tenantID string) CallOption {
	return func(o *callOptions) { o.tenant = &tenantID; o.hasTenant = true }
}

// WithTimeout sets this call's deadline, retries included (instead of Config.Timeout).
func WithTimeout(d time.Duration) CallOption {
	return func(o *callOptions) { o.timeout = d }
}

func (c *Client) options(opts []CallOption) (callOptions, string, time.Duration, *Error) {
	var o callOptions
	for _, f := range opts {
		f(&o)
	}
	tenant := c.cfg.TenantID
	if o.hasTenant {
		tenant = *o.tenant
	}
	budget := c.cfg.Timeout
	if o.timeout != 0 {
		if o.timeout < 0 {
			return o, "", 0, newError(CodeConfig, "timeout_ms: must be a positive duration, got %s", o.timeout)
		}
		budget = o.timeout
	}
	return o, tenant, budget, nil
}

// AuthorizeResult is the outcome of Authorize and VerifyToken: never an
// error return, always a result.
type AuthorizeResult struct {
	// Allowed is true only when the token verified and the policy (if any)
	// was exactly true, or on a fail-open.
	Allowed bool
	// Reason is "allowed", "denied", "undefined", "fail-open" or the error code.
	Reason string
	// Claims are the verified claims; nil on a fail-open and on any failure.
	Claims Claims
	// Defined is true when the policy query had a value.
	Defined bool
	// Value is the policy query's value (nil when undefined or for VerifyToken);
	// numbers are exact: int64, *big.Int beyond 64 bits, float64 otherwise.
	Value any
	// Revision is the policy bundle revision that decided ("" for VerifyToken).
	Revision string
	// Alg is the verified token's signing algorithm.
	Alg string
	// Err says why it failed (a rejected token: Err.RFC6750Error() == "invalid_token").
	Err *Error
	// Degraded is true when the sidecar was unreachable and FailOpen allowed
	// the request (Claims is nil).
	Degraded bool
}

// Decision is the value of one policy query (EvaluatePolicy).
type Decision struct {
	// Allowed is the allow-style reading: true only when the value is exactly true.
	Allowed bool
	// Defined is true when the query has a value.
	Defined bool
	// Value is the query's value, decoded from JSON (nil when undefined);
	// integers are int64 (*big.Int beyond 64 bits), other numbers float64.
	Value any
	// Revision is the policy bundle revision that decided.
	Revision string
}

// IsAllowedResult is the outcome of IsAllowed: never an error return.
type IsAllowedResult struct {
	// Allowed is true when the query was exactly true (or on a fail-open).
	Allowed bool
	// Reason is "allowed", "denied", "undefined", "fail-open" or an error code.
	Reason string
	// Degraded is true when FailOpen allowed it because the sidecar was unreachable.
	Degraded bool
	// Err says why it failed, when it did.
	Err *Error
	// Revision is the policy bundle revision that decided.
	Revision string
}

// PolicyQuery is one item of EvaluatePolicies.
type PolicyQuery struct {
	// Query is the Rego query, e.g. "data.authz.allow".
	Query string
	// Input is the input document (anything encoding/json can marshal; nil for none).
	Input any
}

// BatchResult is one item's outcome in EvaluatePolicies: a Decision or an Err.
type BatchResult struct {
	// Decision is the item's decision when Err is nil.
	Decision Decision
	// Err is the item's error, if it failed on its own.
	Err *Error
}

// OK reports whether the item was evaluated.
func (r BatchResult) OK() bool { return r.Err == nil }

// HealthStatus is what Health reports.
type HealthStatus string

const (
	// HealthServing means the sidecar is up and has what it needs (keys, policies).
	HealthServing HealthStatus = "SERVING"
	// HealthNotServing means the sidecar answered but is not ready.
	HealthNotServing HealthStatus = "NOT_SERVING"
	// HealthUnreachable means the sidecar could not be reached.
	HealthUnreachable HealthStatus = "UNREACHABLE"
)

// Stats are counters for dashboards.
type Stats struct {
	// FailOpen counts requests FailOpen allowed because the sidecar was unreachable.
	FailOpen int64
	// FailClosed counts requests FailClosed denied because the sidecar was unreachable.
	FailClosed int64
	// Breaker is the circuit breaker's state.
	Breaker BreakerState
}

// Stats returns the fail-mode counters and the breaker's state.
func (c *Client) Stats() Stats {
	return Stats{FailOpen: c.failOpen.Load(), FailClosed: c.failClosed.Load(), Breaker: c.breaker.State()}
}

// Close closes the connection. It is idempotent; calls after it fail with ERR_ENGINE_CLOSED.
func (c *Client) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	return c.conn.Close()
}

// toJSON serializes a policy input; what JSON cannot carry is a typed error.
func toJSON(v any) (string, *Error) {
	if v == nil {
		return "", nil
	}
	if raw, ok := v.(json.RawMessage); ok && !json.Valid(raw) {
		return "", newError(CodeInputInvalid, "invalid input: the json.RawMessage is not valid JSON")
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		var uv *json.UnsupportedValueError
		if errors.As(err, &uv) && strings.Contains(uv.Str, "cycle") {
			return "", newError(CodeInputTooDeep, "input nested too deeply (or cyclic) to serialize")
		}
		var ut *json.UnsupportedTypeError
		if errors.As(err, &ut) {
			return "", newError(CodeInputInvalid, "invalid input: JSON cannot carry a value of type %s", ut.Type)
		}
		if errors.As(err, &uv) {
			return "", newError(CodeInputInvalid, "invalid input: JSON cannot carry %s", uv.Str)
		}
		return "", newError(CodeInputInvalid, "invalid input: %s", firstLine(err.Error()))
	}
	return strings.TrimSuffix(buf.String(), "\n"), nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// fromJSON parses the sidecar's JSON text with every digit kept: an
// integer is an int64 when it fits and a *big.Int when it does not, any
// other number a float64 (see "Values" in the package documentation).
func fromJSON(text string) (any, *Error) {
	if text == "" {
		return nil, nil
	}
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		return nil, newError(CodeInternal, "the sidecar answered with JSON that does not parse")
	}
	return exactNumbers(v), nil
}

// exactNumbers replaces every json.Number in v by an int64, a *big.Int or
// a float64.
func exactNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		s := string(x)
		if !strings.ContainsAny(s, ".eE") {
			if i, err := x.Int64(); err == nil {
				return i
			}
			if b, ok := new(big.Int).SetString(s, 10); ok {
				return b
			}
		}
		f, _ := x.Float64()
		return f
	case []any:
		for i := range x {
			x[i] = exactNumbers(x[i])
		}
		return x
	case map[string]any:
		for k, e := range x {
			x[k] = exactNumbers(e)
		}
		return x
	}
	return v
}

func claimsOf(text string) (Claims, *Error) {
	v, err := fromJSON(text)
	if err != nil {
		return nil, err
	}
	m, _ := v.(map[string]any)
	return m, nil
}

// sidecarErrorInfo is the sidecar's ErrorInfo in a status, if it has one.
func sidecarErrorInfo(st *status.Status) *errdetails.ErrorInfo {
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetDomain() == sidecarErrorDomain {
			return info
		}
	}
	return nil
}

func timeoutError(budget time.Duration, cause error) *Error {
	return &Error{Code: CodeSidecarTimeout, Message: fmt.Sprintf("the sidecar did not answer within %d ms", budget.Milliseconds()), cause: cause}
}

// invoke runs one unary call with the deadline, retries, breaker and trace context.
func invoke[Req, Res any](ctx context.Context, c *Client, budget time.Duration, call func(context.Context, Req, ...grpc.CallOption) (Res, error), req Req) (Res, *Error) {
	var zero Res
	if c.closed.Load() {
		return zero, newError(CodeEngineClosed, "the client is closed")
	}
	if err := ctx.Err(); err != nil {
		return zero, contextError(ctx, budget)
	}
	if !c.breaker.tryAcquire() {
		return zero, newError(CodeSidecarUnavailable, "the sidecar is unreachable (circuit open after repeated failures)")
	}
	deadline := time.Now().Add(budget)
	ctx = withTraceContext(ctx)
	for attempt := 0; ; attempt++ {
		actx, cancel := context.WithDeadline(ctx, deadline)
		res, err := call(actx, req)
		cancel()
		if err == nil {
			c.breaker.onSuccess()
			return res, nil
		}
		if perr := ctx.Err(); perr != nil {
			if errors.Is(perr, context.Canceled) {
				c.breaker.release() // the caller gave up: says nothing about the sidecar
				return zero, &Error{Code: CodeAborted, Message: "the call was cancelled", cause: perr}
			}
		}
		st := status.Convert(err)
		if info := sidecarErrorInfo(st); info != nil {
			c.breaker.onSuccess()
			return zero, &Error{Code: toCode(info.GetReason()), Message: st.Message()}
		}
		switch st.Code() {
		case codes.DeadlineExceeded:
			c.breaker.onFailure()
			return zero, timeoutError(budget, context.DeadlineExceeded)
		case codes.Unavailable:
			wait := time.Duration(rand.Float64() * float64(c.cfg.Backoff) * float64(int(1)<<attempt))
			if attempt < c.cfg.Retries && time.Now().Add(wait).Before(deadline) {
				t := time.NewTimer(wait)
				select {
				case <-t.C:
					continue
				case <-ctx.Done():
					t.Stop()
					if errors.Is(ctx.Err(), context.Canceled) {
						c.breaker.release()
						return zero, &Error{Code: CodeAborted, Message: "the call was cancelled", cause: ctx.Err()}
					}
					c.breaker.onFailure()
					return zero, timeoutError(budget, ctx.Err())
				}
			}
			c.breaker.onFailure()
			return zero, newError(CodeSidecarUnavailable, "the sidecar is unreachable: %s", st.Message())
		case codes.ResourceExhausted:
			c.breaker.onSuccess()
			// No ErrorInfo: refused by gRPC itself (a client- or server-side message size limit).
			return zero, newError(CodeMessageTooLarge, "the message is over a gRPC size limit: %s", st.Message())
		case codes.Canceled:
			c.breaker.release()
			return zero, newError(CodeAborted, "the call was cancelled")
		default:
			c.breaker.onSuccess()
			return zero, newError(CodeInternal, "unexpected gRPC status %s: %s", st.Code(), st.Message())
		}
	}
}

func contextError(ctx context.Context, budget time.Duration) *Error {
	if errors.Is(ctx.Err(), context.Canceled) {
		return &Error{Code: CodeAborted, Message: "the call was cancelled", cause: ctx.Err()}
	}
	return timeoutError(budget, ctx.Err())
}

// degrade applies the fail mode to a transport failure.
func (c *Client) degrade(e *Error) AuthorizeResult {
	if c.cfg.FailMode == FailOpen {
		n := c.failOpen.Add(1)
		c.warnMu.Lock()
		now := time.Now()
		warn := c.lastWarn.IsZero() || now.Sub(c.lastWarn) >= warnEvery
		if warn {
			c.lastWarn = now
		}
		c.warnMu.Unlock()
		if warn {
			msg := fmt.Sprintf("coresdk: sidecar unreachable (%s); fail_mode \"open\" is allowing requests with null claims (%d so far)", e.Code, n)
			if c.cfg.Warn != nil {
				c.cfg.Warn(msg)
			} else {
				slog.Warn(msg)
			}
		}
		return AuthorizeResult{Allowed: true, Reason: "fail-open", Err: e, Degraded: true}
	}
	c.failClosed.Add(1)
	return AuthorizeResult{Reason: string(e.Code), Err: e}
}

func (c *Client) failed(e *Error) AuthorizeResult {
	if e.IsTransportFailure() {
		return c.degrade(e)
	}
	return AuthorizeResult{Reason: string(e.Code), Err: e}
}

// Authorize verifies token (without the "Bearer " prefix) and evaluates
// query ("" means DefaultQuery) with the verified claims as input.claims;
// input must marshal to a JSON object (or be nil) and must not have a
// "claims" member.
//
// It never returns an error: a rejected token, a deny or a failure comes
// back as Allowed false with Reason and Err; an unreachable sidecar follows
// the fail mode (FailOpen: Allowed and Degraded, with nil Claims).
func (c *Client) Authorize(ctx context.Context, token, query string, input any, opts ...CallOption) AuthorizeResult {
	_, tenant, budget, err := c.options(opts)
	if err != nil {
		return c.failed(err)
	}
	if query == "" {
		query = DefaultQuery
	}
	in, e := toJSON(input)
	if e != nil {
		return c.failed(e)
	}
	if in != "" && in != "null" && !strings.HasPrefix(in, "{") {
		return c.failed(newError(CodeInputInvalid, "invalid input: authorize's input must be a JSON object"))
	}
	if in == "null" {
		in = ""
	}
	res, e := invoke(ctx, c, budget, c.stub.Authorize, &pb.AuthorizeRequest{TenantId: tenant, Token: token, Query: query, InputJson: in})
	if e != nil {
		return c.failed(e)
	}
	claims, e := claimsOf(res.GetClaimsJson())
	if e != nil {
		return c.failed(e)
	}
	value, e := fromJSON(res.GetDecisionJson())
	if e != nil {
		return c.failed(e)
	}
	return AuthorizeResult{
		Allowed:  res.GetAllowed(),
		Reason:   res.GetReason(),
		Claims:   claims,
		Defined:  res.GetDecisionJson() != "",
		Value:    value,
		Revision: res.GetRevision(),
		Alg:      res.GetAlg(),
	}
}

// VerifyToken verifies token alone (no policy). Like Authorize, it never
// returns an error: the verdict and any failure are in the result.
func (c *Client) VerifyToken(ctx context.Context, token string, opts ...CallOption) AuthorizeResult {
	_, tenant, budget, err := c.options(opts)
	if err != nil {
		return c.failed(err)
	}
	res, e := invoke(ctx, c, budget, c.stub.VerifyToken, &pb.VerifyTokenRequest{TenantId: tenant, Token: token})
	if e != nil {
		return c.failed(e)
	}
	claims, e := claimsOf(res.GetClaimsJson())
	if e != nil {
		return c.failed(e)
	}
	return AuthorizeResult{Allowed: true, Reason: "allowed", Claims: claims, Alg: res.GetAlg()}
}

// EvaluatePolicy evaluates one query against input (anything encoding/json
// marshals; nil for none). A deny or an undefined query is a Decision, not
// an error; errors are *Error (a bad query or input, an unknown tenant, an
// unreachable sidecar: no fail mode applies here).
func (c *Client) EvaluatePolicy(ctx context.Context, query string, input any, opts ...CallOption) (Decision, error) {
	d, e := c.evaluate(ctx, query, input, opts)
	if e != nil {
		return Decision{}, e
	}
	return d, nil
}

func (c *Client) evaluate(ctx context.Context, query string, input any, opts []CallOption) (Decision, *Error) {
	_, tenant, budget, err := c.options(opts)
	if err != nil {
		return Decision{}, err
	}
	in, e := toJSON(input)
	if e != nil {
		return Decision{}, e
	}
	res, e := invoke(ctx, c, budget, c.stub.EvaluatePolicy, &pb.EvaluatePolicyRequest{TenantId: tenant, Query: query, InputJson: in})
	if e != nil {
		return Decision{}, e
	}
	value, e := fromJSON(res.GetValueJson())
	if e != nil {
		return Decision{}, e
	}
	b, _ := value.(bool)
	return Decision{Allowed: res.GetDefined() && b, Defined: res.GetDefined(), Value: value, Revision: res.GetRevision()}, nil
}

// IsAllowed is the allow-style check: allowed only when query is exactly
// true for input. It never returns an error; an unreachable sidecar follows
// the fail mode.
func (c *Client) IsAllowed(ctx context.Context, query string, input any, opts ...CallOption) IsAllowedResult {
	d, e := c.evaluate(ctx, query, input, opts)
	if e != nil {
		if e.IsTransportFailure() {
			r := c.degrade(e)
			return IsAllowedResult{Allowed: r.Allowed, Reason: r.Reason, Degraded: r.Degraded, Err: e}
		}
		return IsAllowedResult{Reason: string(e.Code), Err: e}
	}
	reason := "undefined"
	if d.Allowed {
		reason = "allowed"
	} else if d.Defined {
		reason = "denied"
	}
	return IsAllowedResult{Allowed: d.Allowed, Reason: reason, Revision: d.Revision}
}

// EvaluatePolicies evaluates many items in one round trip (at most the
// sidecar's max_batch, default 128). Items succeed or fail on their own (a
// BatchResult's Err); the error return is for the call as a whole.
func (c *Client) EvaluatePolicies(ctx context.Context, items []PolicyQuery, opts ...CallOption) ([]BatchResult, error) {
	_, tenant, budget, err := c.options(opts)
	if err != nil {
		return nil, err
	}
	req := &pb.EvaluatePoliciesRequest{TenantId: tenant, Items: make([]*pb.PolicyQuery, len(items))}
	for i, it := range items {
		in, e := toJSON(it.Input)
		if e != nil {
			e.Message = fmt.Sprintf("item %d: %s", i, e.Message)
			return nil, e
		}
		req.Items[i] = &pb.PolicyQuery{Query: it.Query, InputJson: in}
	}
	res, e := invoke(ctx, c, budget, c.stub.EvaluatePolicies, req)
	if e != nil {
		return nil, e
	}
	out := make([]BatchResult, len(res.GetResults()))
	for i, r := range res.GetResults() {
		if r.GetErrorCode() != "" {
			out[i] = BatchResult{Err: &Error{Code: toCode(r.GetErrorCode()), Message: r.GetErrorMessage()}}
			continue
		}
		value, e := fromJSON(r.GetValueJson())
		if e != nil {
			out[i] = BatchResult{Err: e}
			continue
		}
		b, _ := value.(bool)
		out[i] = BatchResult{Decision: Decision{Allowed: r.GetDefined() && b, Defined: r.GetDefined(), Value: value, Revision: res.GetRevision()}}
	}
	return out, nil
}

// MaskPII masks personal data and secrets in values with the tenant's
// masker; the result has one string per value, in order.
func (c *Client) MaskPII(ctx context.Context, values []string, opts ...CallOption) ([]string, error) {
	_, tenant, budget, err := c.options(opts)
	if err != nil {
		return nil, err
	}
	res, e := invoke(ctx, c, budget, c.stub.MaskPii, &pb.MaskPiiRequest{TenantId: tenant, Values: values})
	if e != nil {
		return nil, e
	}
	return res.GetValues(), nil
}

// Health asks the sidecar's standard gRPC health service: HealthServing,
// HealthNotServing, or HealthUnreachable (a transport failure, with a nil
// error). Other failures (a closed client, a cancelled context) are errors.
func (c *Client) Health(ctx context.Context, opts ...CallOption) (HealthStatus, error) {
	_, _, budget, err := c.options(opts)
	if err != nil {
		return "", err
	}
	res, e := invoke(ctx, c, budget, c.health.Check, &healthpb.HealthCheckRequest{})
	if e != nil {
		if e.IsTransportFailure() {
			return HealthUnreachable, nil
		}
		return "", e
	}
	if res.GetStatus() == healthpb.HealthCheckResponse_SERVING {
		return HealthServing, nil
	}
	return HealthNotServing, nil
}
