// Command go-http is a net/http service protected by CoreSDK through the sidecar.
//
//	npx coresdk-sidecar --dev      # terminal 1: [::1]:50051, dev defaults; prints a development token
//	go run .                       # terminal 2: http://127.0.0.1:8080 (CORESDK_FAIL_MODE=closed to fail closed)
//	curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8080/documents/doc-1
//
// coresdk.Middleware verifies the bearer token of every request (claims via
// coresdk.ClaimsFromContext); each document route asks the example bundle's
// data.authz.allow (examples/policies) through coresdk.RequirePolicy.
package main

import (
	"encoding/json"
	"log"
	"net/http"
	"os"

	"github.com/coresdk/coresdk/clients/go/coresdk"
)

func main() {
	// coresdk.toml [sdk] and CORESDK_* (CORESDK_SIDECAR_ADDR, CORESDK_FAIL_MODE, CORESDK_TLS_*...);
	// without them: [::1]:50051, tenant acme-corp, fail mode open.
	cfg, err := coresdk.ConfigFromEnv()
	if err != nil {
		log.Fatal(err)
	}
	client, err := coresdk.NewClient(cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	addr := os.Getenv("ADDR")
	if addr == "" {
		addr = "127.0.0.1:8080"
	}
	log.Printf("listening on http://%s", addr)
	log.Fatal(http.ListenAndServe(addr, newApp(client)))
}

// newApp is the service: every route behind the middleware, document routes behind a policy.
func newApp(client *coresdk.Client) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /me", func(w http.ResponseWriter, r *http.Request) {
		claims, _ := coresdk.ClaimsFromContext(r.Context()) // nil when the sidecar is unreachable and the fail mode is open
		writeJSON(w, map[string]any{"claims": claims})
	})
	mux.Handle("GET /documents/{id}", coresdk.RequirePolicy(client, "data.authz.allow", document("read"))(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var reader any
			if claims, _ := coresdk.ClaimsFromContext(r.Context()); claims != nil {
				reader = claims["sub"]
			}
			writeJSON(w, map[string]any{"document": r.PathValue("id"), "reader": reader})
		})))
	mux.Handle("PUT /documents/{id}", coresdk.RequirePolicy(client, "data.authz.allow", document("write"))(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, map[string]any{"document": r.PathValue("id"), "written": true})
		})))
	// A decision without a token in its input: what the policy says for a fixed input.
	mux.HandleFunc("GET /decide", func(w http.ResponseWriter, r *http.Request) {
		input := map[string]any{"user": map[string]any{"id": "alice", "roles": []string{"viewer"}}, "action": "read", "resource": map[string]any{"type": "document"}}
		d, err := client.EvaluatePolicy(r.Context(), "data.authz.allow", input)
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable) // *coresdk.Error messages never hold a secret
			return
		}
		writeJSON(w, map[string]any{"allowed": d.Allowed, "value": d.Value, "revision": d.Revision})
	})
	return coresdk.Middleware(client)(mux)
}

// document is the route guard's input: the action, and the document named in the path.
func document(action string) coresdk.InputFunc {
	return func(r *http.Request) (map[string]any, error) {
		return map[string]any{"action": action, "resource": map[string]any{"type": "document", "id": r.PathValue("id")}}, nil
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
