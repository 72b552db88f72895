package coresdk

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
)

// The problem kinds (contract_gen.go, from proto/contract/errors.json).
var (
	kindInvalidRequest = problemSpecs["invalid-request"]
	kindMissing        = problemSpecs["missing-credentials"]
	kindInvalidToken   = problemSpecs["invalid-token"]
	kindForbidden      = problemSpecs["forbidden"]
	kindUnavailable    = problemSpecs["authorization-unavailable"]
	kindError          = problemSpecs["authorization-error"]
)

var (
	b64token    = regexp.MustCompile(`^[A-Za-z0-9\-._~+/]+=*$`)
	traceparent = regexp.MustCompile(`^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$`)
	notQuotable = regexp.MustCompile(`[^\x20\x21\x23-\x5b\x5d-\x7e]`)
)

// Problem is an RFC 9457 problem body, with members in the Node middleware's order.
type Problem struct {
	// Type is ProblemTypeBase plus the kind (missing-credentials, invalid-token, ...).
	Type string `json:"type"`
	// Title is the kind's fixed title.
	Title string `json:"title"`
	// Status is the HTTP status.
	Status int `json:"status"`
	// Detail says what went wrong, without any secret.
	Detail string `json:"detail"`
	// Instance is the request path, without its query.
	Instance string `json:"instance"`
	// Code is the stable error code (ERR_TOKEN_EXPIRED, ERR_POLICY_DENIED, ...).
	Code string `json:"code"`
	// TraceID is the request's W3C trace id, when it had a valid traceparent.
	TraceID string `json:"trace_id,omitempty"`
}

// problemResponse is a problem with the headers it is sent with.
type problemResponse struct {
	body    Problem
	headers [][2]string
}

func (p problemResponse) write(w http.ResponseWriter) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // JSON.stringify's bytes, as the Node middleware sends them
	_ = enc.Encode(p.body)
	body := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	h := w.Header()
	for _, kv := range p.headers {
		h.Set(kv[0], kv[1])
	}
	h.Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(p.body.Status)
	_, _ = w.Write(body)
}

// traceIDOf is the trace id of a W3C traceparent value, if valid (and not all zeros).
func traceIDOf(tp string) string {
	m := traceparent.FindStringSubmatch(strings.TrimSpace(tp))
	if m == nil || m[1] == strings.Repeat("0", 32) {
		return ""
	}
	return m[1]
}

// quote keeps what RFC 6750 §3 allows in a quoted value (%x20-21 / %x23-5B / %x5D-7E).
func quote(s string) string { return notQuotable.ReplaceAllString(s, "") }

// facts are what the problem builder needs from a request.
type facts struct {
	path    string
	traceID string
	realm   string
}

func factsOf(r *http.Request, realm string) facts {
	return facts{path: r.URL.EscapedPath(), traceID: traceIDOf(r.Header.Get("traceparent")), realm: realm}
}

func problem(k problemSpec, detail string, code Code, f facts) problemResponse {
	headers := [][2]string{{"Content-Type", "application/problem+json"}, {"Cache-Control", "no-store"}}
	realm := f.realm
	if realm == "" {
		realm = "coresdk"
	}
	r := `realm="` + quote(realm) + `"`
	switch k {
	case kindMissing:
		headers = append(headers, [2]string{"WWW-Authenticate", "Bearer " + r})
	case kindInvalidToken:
		headers = append(headers, [2]string{"WWW-Authenticate", "Bearer " + r + `, error="invalid_token", error_description="` + quote(detail) + `"`})
	case kindInvalidRequest:
		headers = append(headers, [2]string{"WWW-Authenticate", "Bearer " + r + `, error="invalid_request", error_description="` + quote(detail) + `"`})
	case kindUnavailable:
		headers = append(headers, [2]string{"Retry-After", "1"})
	}
	return problemResponse{
		body: Problem{
			Type: ProblemTypeBase + k.name, Title: k.title, Status: k.status, Detail: detail,
			Instance: f.path, Code: string(code), TraceID: f.traceID,
		},
		headers: headers,
	}
}

// problemFor is the problem for a failed authorization, by error code (the Node problemFor).
func problemFor(e *Error, f facts, denied string) problemResponse {
	if e == nil {
		return problem(kindForbidden, denied, codePolicyDenied, f)
	}
	// The contract says which problem each code is and with what detail.
	spec, ok := errorSpecs[e.Code]
	if !ok {
		spec = errorSpecs[CodeInternal]
	}
	k := problemSpecs[spec.problem]
	detail := spec.detail
	if detail == "" {
		detail = k.detail
	}
	return problem(k, detail, e.Code, f)
}

type credKind int

const (
	credNone credKind = iota
	credToken
	credMalformed
)

// bearer classifies a request's Authorization header values as RFC 6750 §2.1
// says: exactly one header; scheme Bearer in any case; one space or more; a
// b64token. Another scheme is no bearer credentials.
func bearer(values []string) (credKind, string, string) {
	if len(values) == 0 {
		return credNone, "", ""
	}
	if len(values) > 1 {
		return credMalformed, "", "more than one Authorization header"
	}
	value := strings.TrimSpace(values[0])
	scheme, rest := value, ""
	if i := strings.IndexFunc(value, isSpace); i >= 0 {
		scheme, rest = value[:i], value[i:]
	}
	if !strings.EqualFold(scheme, "bearer") {
		return credNone, "", ""
	}
	token := strings.TrimSpace(rest)
	if token == "" {
		return credMalformed, "", "the Bearer scheme needs a token"
	}
	if !b64token.MatchString(token) {
		return credMalformed, "", "the bearer token has characters a token cannot have"
	}
	return credToken, token, ""
}

func isSpace(r rune) bool {
	switch r {
	case ' ', '\t', '\n', '\r', '\v', '\f':
		return true
	}
	return false
}

type ctxKey struct{}

// authState is what the middleware puts in the request context.
type authState struct {
	claims   Claims
	degraded bool
}

// ClaimsFromContext returns the verified claims Middleware put in the
// request context. ok is true when Middleware authenticated the request;
// claims are nil on a fail-open (see Degraded) and for an anonymous request
// that WithRequireToken(false) let through.
func ClaimsFromContext(ctx context.Context) (claims Claims, ok bool) {
	s, ok := ctx.Value(ctxKey{}).(*authState)
	if !ok {
		return nil, false
	}
	return s.claims, true
}

// Degraded reports whether the request was let through by FailOpen because
// the sidecar was unreachable (its claims are nil).
func Degraded(ctx context.Context) bool {
	s, ok := ctx.Value(ctxKey{}).(*authState)
	return ok && s.degraded
}

// InputFunc builds a policy input from a request. The claims are added as
// input.claims; an error (or a panic) answers a 500 problem with ERR_INPUT_INVALID.
type InputFunc func(r *http.Request) (map[string]any, error)

// Option configures Middleware.
type Option func(*middlewareOptions)

type middlewareOptions struct {
	requireToken bool
	query        string
	input        InputFunc
	realm        string
}

// WithRequireToken(false) lets a request without bearer credentials through
// with nil claims (a token that is present is still verified). Default true:
// such a request is answered 401.
func WithRequireToken(require bool) Option {
	return func(o *middlewareOptions) { o.requireToken = require }
}

// WithPolicy makes the middleware authorize every request with query (the
// claims as input.claims, plus input(r) when input is not nil) instead of
// only verifying the token. A deny answers 403.
func WithPolicy(query string, input InputFunc) Option {
	return func(o *middlewareOptions) { o.query, o.input = query, input }
}

// WithRealm sets the realm of WWW-Authenticate challenges (default "coresdk").
func WithRealm(realm string) Option {
	return func(o *middlewareOptions) { o.realm = realm }
}

func buildInput(fn InputFunc, r *http.Request) (in map[string]any, err error) {
	if fn == nil {
		return nil, nil
	}
	defer func() {
		if p := recover(); p != nil {
			in, err = nil, fmt.Errorf("the input function panicked")
		}
	}()
	return fn(r)
}

// Middleware verifies the bearer token of every request through the
// sidecar and puts the claims in the request context (ClaimsFromContext).
// Failures answer RFC 9457 problems (application/problem+json) with RFC
// 6750 challenges, exactly as the Node and Python middleware do:
//
//   - no Authorization header, or another scheme: 401 missing-credentials,
//     WWW-Authenticate: Bearer realm="coresdk";
//   - more than one Authorization header, "Bearer" without a token, or a
//     token with characters a token cannot have: 400 invalid-request;
//   - a rejected token: 401 invalid-token, error="invalid_token";
//   - a policy deny (WithPolicy): 403 forbidden, ERR_POLICY_DENIED;
//   - the sidecar unreachable: FailOpen lets the request through with nil
//     claims, FailClosed answers 503 (Retry-After: 1); a sidecar that answers
//     but cannot verify (no keys, overloaded) is 503 in both modes.
func Middleware(client *Client, opts ...Option) func(http.Handler) http.Handler {
	o := middlewareOptions{requireToken: true}
	for _, f := range opts {
		f(&o)
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			f := factsOf(r, o.realm)
			kind, token, detail := bearer(r.Header.Values("Authorization"))
			var state *authState
			switch kind {
			case credMalformed:
				problem(kindInvalidRequest, detail, CodeTokenMalformed, f).write(w)
				return
			case credNone:
				if o.requireToken {
					problem(kindMissing, "a bearer token is required", CodeTokenMissing, f).write(w)
					return
				}
				state = &authState{}
			default:
				var res AuthorizeResult
				if o.query == "" {
					ctx, span := startDecision(r.Context(), "coresdk.verify", client.cfg.TenantID)
					res = client.VerifyToken(ctx, token)
					span.end(res.Allowed, res.Degraded, res.Reason, res.Revision, res.Err)
				} else {
					in, err := buildInput(o.input, r)
					if err != nil {
						problem(kindError, "the policy input could not be built", CodeInputInvalid, f).write(w)
						return
					}
					ctx, span := startDecision(r.Context(), "coresdk.authorize", client.cfg.TenantID)
					res = client.Authorize(ctx, token, o.query, in)
					span.end(res.Allowed, res.Degraded, res.Reason, res.Revision, res.Err)
				}
				if !res.Allowed {
					problemFor(res.Err, f, "the policy denied this request").write(w)
					return
				}
				state = &authState{claims: res.Claims, degraded: res.Degraded}
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, state)))
		})
	}
}

// RequirePolicy guards a handler with a policy: query must be exactly true
// for input(r) (nil: {}) plus the claims Middleware verified as
// input.claims (null without Middleware or for an anonymous request).
// Otherwise it answers 403 (ERR_POLICY_DENIED) or, when the sidecar is
// unreachable, follows the fail mode (FailClosed: 503).
func RequirePolicy(client *Client, query string, input InputFunc) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			f := factsOf(r, "")
			built, err := buildInput(input, r)
			if err != nil {
				problem(kindError, "the policy input could not be built", CodeInputInvalid, f).write(w)
				return
			}
			in := make(map[string]any, len(built)+1)
			for k, v := range built {
				in[k] = v
			}
			claims, _ := ClaimsFromContext(r.Context())
			if claims != nil {
				in["claims"] = claims
			} else {
				in["claims"] = nil
			}
			ctx, span := startDecision(r.Context(), "coresdk.evaluate", client.cfg.TenantID)
			res := client.IsAllowed(ctx, query, in)
			span.end(res.Allowed, res.Degraded, res.Reason, res.Revision, res.Err)
			if res.Allowed {
				next.ServeHTTP(w, r)
				return
			}
			if res.Err != nil && !res.Err.IsTransportFailure() && strings.HasPrefix(string(res.Err.Code), "ERR_TOKEN") {
				problemFor(res.Err, f, "").write(w)
				return
			}
			problemFor(res.Err, f, "the policy "+query+" denied this request").write(w)
		})
	}
}
