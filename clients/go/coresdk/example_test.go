package coresdk_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"

	"github.com/coresdk/coresdk/clients/go/coresdk"
)

// sidecarConfig is the test sidecar's address and client certificate. In an
// application: coresdk.ConfigFromEnv(), or a Config with SidecarAddr,
// TLSCAFile, TLSCertFile and TLSKeyFile.
func sidecarConfig() coresdk.Config { return w.config("up", coresdk.FailClosed) }

// A client, one policy decision, and the same decision read allow-style.
func ExampleNewClient() {
	client, err := coresdk.NewClient(sidecarConfig())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer client.Close()
	input := map[string]any{"action": "read", "claims": map[string]any{"role": "reader"}}
	d, err := client.EvaluatePolicy(context.Background(), "data.authz.allow", input)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(d.Allowed, d.Value, d.Revision != "")
	// Output: true true true
}

// Authorize verifies a bearer token, then decides with its claims as input.claims.
func ExampleClient_Authorize() {
	client, _ := coresdk.NewClient(sidecarConfig())
	defer client.Close()
	token := w.tokens["valid"] // from the request's Authorization header, without "Bearer "
	r := client.Authorize(context.Background(), token, "data.authz.allow", map[string]any{"action": "write"})
	fmt.Println(r.Allowed, r.Reason, r.Claims["sub"])
	r = client.Authorize(context.Background(), w.tokens["expired"], "", nil)
	fmt.Println(r.Allowed, r.Reason, r.Err.RFC6750Error())
	// Output:
	// false denied user-1
	// false ERR_TOKEN_EXPIRED invalid_token
}

// The middleware answers RFC 9457 problems with RFC 6750 challenges; a
// request without a token never reaches the sidecar.
func ExampleMiddleware() {
	client, _ := coresdk.NewClient(coresdk.Config{FailMode: coresdk.FailClosed})
	defer client.Close()
	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, _ := coresdk.ClaimsFromContext(r.Context()) // nil on a fail-open
		fmt.Fprintln(w, "hello", claims["sub"])
	})
	mux := http.NewServeMux()
	mux.Handle("/documents/", coresdk.Middleware(client)(hello))

	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "/documents/7?x=1", nil))
	fmt.Println(rec.Code, rec.Header().Get("WWW-Authenticate"))
	fmt.Println(rec.Body.String())
	// Output:
	// 401 Bearer realm="coresdk"
	// {"type":"https://coresdk.dev/problems/missing-credentials","title":"Authentication required","status":401,"detail":"a bearer token is required","instance":"/documents/7","code":"ERR_TOKEN_MISSING"}
}

// RequirePolicy guards one route; the verified claims are added as input.claims.
func ExampleRequirePolicy() {
	client, _ := coresdk.NewClient(sidecarConfig())
	defer client.Close()
	read := func(*http.Request) (map[string]any, error) { return map[string]any{"action": "read"}, nil }
	write := func(*http.Request) (map[string]any, error) { return map[string]any{"action": "write"}, nil }
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") })
	mux := http.NewServeMux()
	mux.Handle("GET /orders/{id}", coresdk.RequirePolicy(client, "data.authz.allow", read)(ok))
	mux.Handle("POST /orders/{id}", coresdk.RequirePolicy(client, "data.authz.allow", write)(ok))
	app := coresdk.Middleware(client)(mux)

	for _, method := range []string{"GET", "POST"} {
		req := httptest.NewRequest(method, "/orders/1", nil)
		req.Header.Set("Authorization", "Bearer "+w.tokens["valid"]) // a reader
		rec := httptest.NewRecorder()
		app.ServeHTTP(rec, req)
		fmt.Println(method, rec.Code)
	}
	// Output:
	// GET 200
	// POST 403
}

// ConfigFromEnv reads coresdk.toml [sdk] and CORESDK_* variables; errors name the key.
func ExampleConfigFromEnv() {
	os.Setenv("CORESDK_FAIL_MODE", "closed")
	cfg, err := coresdk.ConfigFromEnv()
	fmt.Println(cfg.FailMode, err)
	os.Setenv("CORESDK_FAIL_MODE", "sometimes")
	_, err = coresdk.ConfigFromEnv()
	fmt.Println(err)
	os.Unsetenv("CORESDK_FAIL_MODE")
	// Output:
	// closed <nil>
	// [ERR_CONFIG] invalid configuration: CORESDK_FAIL_MODE: must be "open" or "closed", got "sometimes"
}

// Errors carry stable codes; match them with errors.Is or errors.As.
func ExampleError() {
	client, _ := coresdk.NewClient(coresdk.Config{})
	client.Close()
	_, err := client.EvaluatePolicy(context.Background(), "data.authz.allow", nil)
	var e *coresdk.Error
	fmt.Println(errors.Is(err, coresdk.ErrEngineClosed), errors.As(err, &e) && e.Code == coresdk.CodeEngineClosed)
	fmt.Println(err)
	// Output:
	// true true
	// [ERR_ENGINE_CLOSED] the client is closed
}
