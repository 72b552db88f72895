package coresdk_test

// Middleware behaviour beyond the shared case file: a middleware-level
// policy, guards without the middleware, failing input builders, realms.

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/coresdk/coresdk/clients/go/coresdk"
)

func get(t *testing.T, h http.Handler, method, path string, headers ...string) (*http.Response, map[string]any) {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	req, err := http.NewRequest(method, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var body map[string]any
	_ = json.Unmarshal(raw, &body)
	return res, body
}

func claimsHandler() http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		claims, ok := coresdk.ClaimsFromContext(r.Context())
		_ = json.NewEncoder(rw).Encode(map[string]any{"claims": claims, "ok": ok, "degraded": coresdk.Degraded(r.Context())})
	})
}

func TestMiddlewareLevelPolicy(t *testing.T) {
	c := w.client(t, "up", coresdk.FailClosed)
	input := func(r *http.Request) (map[string]any, error) {
		action := "read"
		if r.Method == http.MethodPost {
			action = "write"
		}
		return map[string]any{"action": action}, nil
	}
	h := coresdk.Middleware(c, coresdk.WithPolicy("data.authz.allow", input))(claimsHandler())
	res, body := get(t, h, "GET", "/x", "Authorization", "Bearer "+w.tokens["valid"])
	if res.StatusCode != 200 || body["claims"].(map[string]any)["sub"] != "user-1" || body["ok"] != true {
		t.Fatalf("%d %v", res.StatusCode, body)
	}
	res, body = get(t, h, "POST", "/x", "Authorization", "Bearer "+w.tokens["valid"])
	if res.StatusCode != 403 || body["code"] != "ERR_POLICY_DENIED" || body["detail"] != "the policy denied this request" {
		t.Fatalf("%d %v", res.StatusCode, body)
	}
	res, body = get(t, h, "GET", "/x", "Authorization", "Bearer "+w.tokens["expired"])
	if res.StatusCode != 401 || body["code"] != "ERR_TOKEN_EXPIRED" {
		t.Fatalf("%d %v", res.StatusCode, body)
	}
}

func TestGuardWithoutTheMiddleware(t *testing.T) {
	c := w.client(t, "up", coresdk.FailClosed)
	h := coresdk.RequirePolicy(c, "data.authz.allow", nil)(claimsHandler())
	res, body := get(t, h, "GET", "/orders/1")
	if res.StatusCode != 403 || body["detail"] != "the policy data.authz.allow denied this request" {
		t.Fatalf("%d %v", res.StatusCode, body)
	}
	if _, ok := body["trace_id"]; ok {
		t.Fatal("no traceparent, no trace_id")
	}
	// The claims the policy sees are the verified ones: a caller cannot smuggle input.claims in.
	smuggle := coresdk.RequirePolicy(c, "data.authz.allow", func(*http.Request) (map[string]any, error) {
		return map[string]any{"claims": map[string]any{"role": "admin"}}, nil
	})(claimsHandler())
	if res, _ := get(t, smuggle, "GET", "/orders/1"); res.StatusCode != 403 {
		t.Fatalf("%d", res.StatusCode)
	}
}

func TestFailingInputBuildersAre500Problems(t *testing.T) {
	c := w.client(t, "up", coresdk.FailClosed)
	failing := func(*http.Request) (map[string]any, error) { return nil, errors.New("boom") }
	panicking := func(*http.Request) (map[string]any, error) { panic("boom") }
	for name, h := range map[string]http.Handler{
		"middleware": coresdk.Middleware(c, coresdk.WithPolicy("data.authz.allow", failing))(claimsHandler()),
		"guard":      coresdk.Middleware(c)(coresdk.RequirePolicy(c, "data.authz.allow", failing)(claimsHandler())),
		"panic":      coresdk.Middleware(c)(coresdk.RequirePolicy(c, "data.authz.allow", panicking)(claimsHandler())),
	} {
		res, body := get(t, h, "GET", "/orders/1", "Authorization", "Bearer "+w.tokens["admin"])
		if res.StatusCode != 500 || body["code"] != "ERR_INPUT_INVALID" || body["type"] != "https://coresdk.dev/problems/authorization-error" {
			t.Fatalf("%s: %d %v", name, res.StatusCode, body)
		}
		if body["detail"] != "the policy input could not be built" || strings.Contains(res.Header.Get("Content-Type"), "json") == false {
			t.Fatalf("%s: %v", name, body)
		}
	}
}

func TestRealmAndFailOpenContext(t *testing.T) {
	c := w.client(t, "down", coresdk.FailOpen)
	h := coresdk.Middleware(c, coresdk.WithRealm("orders \"api\""))(claimsHandler())
	res, _ := get(t, h, "GET", "/x")
	if got := res.Header.Get("WWW-Authenticate"); got != `Bearer realm="orders api"` {
		t.Fatalf("%q", got)
	}
	res, body := get(t, h, "GET", "/x", "Authorization", "Bearer "+w.tokens["valid"])
	if res.StatusCode != 200 || body["claims"] != nil || body["ok"] != true || body["degraded"] != true {
		t.Fatalf("%d %v", res.StatusCode, body)
	}
	// Outside the middleware there are no claims and ok is false.
	if claims, ok := coresdk.ClaimsFromContext(ctx); claims != nil || ok {
		t.Fatal("no middleware, no claims")
	}
}

func TestAPolicyErrorIsA500(t *testing.T) {
	for _, fm := range []coresdk.FailMode{coresdk.FailOpen, coresdk.FailClosed} {
		c := w.client(t, "up", fm)
		h := coresdk.Middleware(c)(coresdk.RequirePolicy(c, "data.authz.no_such_rule", nil)(claimsHandler()))
		res, body := get(t, h, "GET", "/orders/1", "Authorization", "Bearer "+w.tokens["admin"])
		if res.StatusCode != 500 || body["code"] != "ERR_QUERY_NOT_ALLOWED" || body["type"] != "https://coresdk.dev/problems/authorization-error" ||
			body["detail"] != "the authorization policy could not be evaluated" {
			t.Fatalf("%s: %d %v", fm, res.StatusCode, body)
		}
		if c.Stats().FailOpen != 0 {
			t.Fatalf("%s: %+v", fm, c.Stats())
		}
	}
}
