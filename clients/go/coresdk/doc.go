// Package coresdk is the Go SDK of CoreSDK: token verification, Rego policy
// decisions and PII masking through the CoreSDK sidecar, over one reused
// gRPC connection with mutual TLS 1.3, plus net/http middleware that answers
// exactly what the Node (Express, Fastify) and Python (FastAPI, Flask,
// Django) middleware answer.
//
//	client, err := coresdk.NewClient(coresdk.Config{
//		SidecarAddr: "[::1]:50051",    // default
//		TenantID:    "acme-corp",      // default
//		FailMode:    coresdk.FailOpen, // or coresdk.FailClosed
//	})
//	if err != nil { ... }
//	defer client.Close()
//	mux.Handle("/documents/", coresdk.Middleware(client)(handler))
//	claims, ok := coresdk.ClaimsFromContext(r.Context()) // nil claims on fail-open
//	d, err := client.EvaluatePolicy(ctx, "data.authz.allow", input)
//
// # Fail mode
//
// The fail mode applies to one situation only: the sidecar could not be
// reached (connection or TLS refused, no answer within the deadline, the
// circuit breaker open). FailOpen lets the request through with nil claims
// (Degraded reports it; a warning at most every 10 s; Stats counts it);
// FailClosed denies it (503 from the middleware). A status that carries the
// sidecar's google.rpc.ErrorInfo (domain coresdk.dev) is an answer, never a
// reason to allow: a rejected token is 401, a sidecar without signing keys
// is 503 in both modes.
//
// # Errors
//
// Every failure is an *Error with a stable Code (the same strings as the
// Node package and the Python SDK: ERR_TOKEN_EXPIRED, ERR_SIDECAR_TIMEOUT,
// ...). Use errors.As, or errors.Is with a sentinel such as
// ErrSidecarUnavailable. Messages never contain a token, claims or policy
// input.
//
// # Values
//
// Decision values and claims are decoded with every digit kept: an integer
// is an int64 when it fits and a *big.Int when it does not (a policy's
// time.now_ns(), a 64-bit id), any other number is a float64 (-0 kept),
// strings, booleans, nil, []any and map[string]any as encoding/json gives
// them; Rego sets arrive as sorted arrays. The Node, Python and Java SDKs
// give the same values in their own types (the corpus in
// clients/conformance/values.json).
//
// # Configuration
//
// ConfigFromEnv reads coresdk.toml's [sdk] table and CORESDK_* variables with
// the Node client's keys and defaults; see docs/go.md in the repository.
package coresdk
