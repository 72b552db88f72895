package coresdk_test

// clients/conformance/cases.json through the net/http middleware, against
// the real sidecar. The Node Express and Fastify middleware run the same
// file first (__test__/client-conformance.test.ts) and are the reference.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/coresdk/coresdk/clients/go/coresdk"
)

// conformanceApp is the app cases.json describes: setup.routes, each guarded
// by RequirePolicy with the route's query and fixed input, answering
// 200 {"claims": <claims or null>}, behind Middleware.
func conformanceApp(client *coresdk.Client, requireToken bool) http.Handler {
	mux := http.NewServeMux()
	for _, r := range w.cases.Setup.Routes {
		input := r.Input
		guard := coresdk.RequirePolicy(client, r.Query, func(*http.Request) (map[string]any, error) { return input, nil })
		mux.Handle(r.Method+" "+r.Path, guard(http.HandlerFunc(func(rw http.ResponseWriter, req *http.Request) {
			claims, _ := coresdk.ClaimsFromContext(req.Context())
			rw.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(rw).Encode(map[string]any{"claims": claims})
		})))
	}
	return coresdk.Middleware(client, coresdk.WithRequireToken(requireToken))(mux)
}

// rawRequest sends exactly these header lines (repeated names stay separate lines) over a plain socket.
func rawRequest(t *testing.T, addr, method, path string, headers [][2]string) (*http.Response, []byte) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n", method, path, addr)
	for _, h := range headers {
		fmt.Fprintf(&b, "%s: %s\r\n", h[0], h[1])
	}
	b.WriteString("\r\n")
	if _, err := io.WriteString(conn, b.String()); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, body
}

// keysInOrder is the member names of a JSON object, in the order they come.
func keysInOrder(t *testing.T, raw []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not a JSON object: %s", raw)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

func TestConformanceFileIsWellFormed(t *testing.T) {
	if w.cases.Format != 1 {
		t.Fatalf("format %d", w.cases.Format)
	}
	names := map[string]bool{}
	states := map[string]bool{}
	runs := 0
	for _, c := range w.cases.Cases {
		if names[c.Name] {
			t.Fatalf("duplicate case name %q", c.Name)
		}
		names[c.Name] = true
		states[c.Sidecar] = true
		runs += len(c.FailModes)
	}
	if runs <= 30 || len(states) != 4 {
		t.Fatalf("%d runs over sidecar states %v", runs, states)
	}
}

func TestConformance(t *testing.T) {
	for _, c := range w.cases.Cases {
		for _, fm := range c.FailModes {
			t.Run(fmt.Sprintf("%s [%s, fail %s]", c.Name, c.Sidecar, fm), func(t *testing.T) {
				client := w.client(t, c.Sidecar, coresdk.FailMode(fm))
				requireToken := c.RequireToken == nil || *c.RequireToken
				srv := httptest.NewServer(conformanceApp(client, requireToken))
				defer srv.Close()
				headers := make([][2]string, len(c.Request.Headers))
				for i, h := range c.Request.Headers {
					v, err := w.fill(h[1])
					if err != nil {
						t.Fatal(err)
					}
					headers[i] = [2]string{h[0], v}
				}
				res, body := rawRequest(t, srv.Listener.Addr().String(), c.Request.Method, c.Request.Path, headers)
				e := c.Expect
				if res.StatusCode != e.Status {
					t.Fatalf("status %d, want %d; body %s", res.StatusCode, e.Status, body)
				}
				for k, v := range e.Headers {
					if got := res.Header.Values(k); len(got) != 1 || got[0] != v {
						t.Errorf("header %s = %q, want %q", k, got, v)
					}
				}
				for _, k := range e.AbsentHeaders {
					if _, ok := res.Header[http.CanonicalHeaderKey(k)]; ok {
						t.Errorf("header %s is sent, want absent", k)
					}
				}
				if len(e.Problem) > 0 {
					if ct := strings.TrimSpace(strings.Split(res.Header.Get("Content-Type"), ";")[0]); ct != "application/problem+json" {
						t.Errorf("content-type %q", res.Header.Get("Content-Type"))
					}
					var got, want any
					if err := json.Unmarshal(body, &got); err != nil {
						t.Fatalf("body %s: %v", body, err)
					}
					_ = json.Unmarshal(e.Problem, &want)
					if !reflect.DeepEqual(got, want) {
						t.Errorf("problem\n got %s\nwant %s", body, e.Problem)
					}
					if g, wk := keysInOrder(t, body), keysInOrder(t, e.Problem); !reflect.DeepEqual(g, wk) {
						t.Errorf("member order %v, want the Node middleware's %v", g, wk)
					}
					for _, token := range w.tokens {
						if bytes.Contains(body, []byte(token)) || strings.Contains(fmt.Sprint(res.Header), token) {
							t.Errorf("a token leaked into the answer")
						}
					}
				}
				if len(e.Claims) > 0 {
					var got struct {
						Claims map[string]any `json:"claims"`
					}
					if err := json.Unmarshal(body, &got); err != nil {
						t.Fatalf("body %s: %v", body, err)
					}
					var want map[string]any
					_ = json.Unmarshal(e.Claims, &want)
					if want == nil {
						if got.Claims != nil {
							t.Errorf("claims %v, want null", got.Claims)
						}
					} else {
						for k, v := range want {
							if !reflect.DeepEqual(got.Claims[k], v) {
								t.Errorf("claims[%s] = %v, want %v", k, got.Claims[k], v)
							}
						}
					}
				}
			})
		}
	}
}
