package coresdk_test

// The active OpenTelemetry span travels to the sidecar as traceparent: a
// sidecar that exports its spans over OTLP/HTTP to a loopback receiver
// reports its span for the call as a child of the application's span.

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/coresdk/coresdk/clients/go/coresdk"
)

// tracedSidecar starts a sidecar that exports its spans to a loopback OTLP/HTTP
// receiver, and returns its address and a function that waits (bounded) for an
// exported span with the given trace id and parent span id.
func tracedSidecar(t *testing.T) (string, func(trace.TraceID, trace.SpanID) bool) {
	t.Helper()
	var mu sync.Mutex
	var traces [][]byte
	receiver := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.URL.Path == "/v1/traces" {
			mu.Lock()
			traces = append(traces, body)
			mu.Unlock()
		}
		rw.Header().Set("Content-Type", "application/x-protobuf")
		rw.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(receiver.Close)
	dir := t.TempDir()
	jwks, _ := json.Marshal(map[string]any{"keys": []any{w.key.jwk()}})
	if err := os.WriteFile(filepath.Join(dir, "jwks.json"), jwks, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := startSidecar(map[string]string{
		"CORESDK_SIDECAR_ADDR":         "127.0.0.1:0",
		"CORESDK_SIDECAR_INSECURE_DEV": "true",
		"CORESDK_POLICY_DIR":           filepath.Join(w.dir, "bundle"),
		"CORESDK_JWKS_FILE":            filepath.Join(dir, "jwks.json"),
		"CORESDK_ISSUER":               w.cases.Setup.Issuer,
		"CORESDK_AUDIENCE":             w.cases.Setup.Audience,
		"OTEL_EXPORTER_OTLP_ENDPOINT":  receiver.URL,
		"OTEL_EXPORTER_OTLP_PROTOCOL":  "http/protobuf",
		"OTEL_BSP_SCHEDULE_DELAY":      "100",
		"OTEL_METRIC_EXPORT_INTERVAL":  "600000",
	}, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.stop)
	return s.addr, func(tid trace.TraceID, parent trace.SpanID) bool {
		// OTLP Span: trace_id is field 1 (bytes, 16), parent_span_id field 4 (bytes, 8).
		wantTrace := append([]byte{0x0a, 0x10}, tid[:]...)
		wantParent := append([]byte{0x22, 0x08}, parent[:]...)
		for i := 0; i < 200; i++ { // bounded: 10 s for the sidecar's batch export
			mu.Lock()
			for _, body := range traces {
				if bytes.Contains(body, wantTrace) && bytes.Contains(body, wantParent) {
					mu.Unlock()
					return true
				}
			}
			mu.Unlock()
			time.Sleep(50 * time.Millisecond)
		}
		return false
	}
}

func TestTheActiveSpanIsTheParentOfTheSidecarSpan(t *testing.T) {
	addr, exported := tracedSidecar(t)
	c, err := coresdk.NewClient(coresdk.Config{SidecarAddr: addr, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The application's span (as otelhttp or a tracer would put it in the request context).
	tid, _ := trace.TraceIDFromHex("0af7651916cd43dd8448eb211c80319c")
	sid, _ := trace.SpanIDFromHex("b7ad6b7169203331")
	parent := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled})
	ctx := trace.ContextWithSpanContext(ctx, parent)
	if r := c.VerifyToken(ctx, w.tokens["valid"]); !r.Allowed {
		t.Fatalf("%+v", r)
	}
	if !exported(tid, sid) {
		t.Fatalf("no exported sidecar span with parent %s", sid)
	}
}

func TestTheMiddlewareSpanIsTheParentOfTheSidecarSpan(t *testing.T) {
	addr, exported := tracedSidecar(t)
	rec := tracetest.NewSpanRecorder()
	provider := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	otel.SetTracerProvider(provider)
	defer otel.SetTracerProvider(noop.NewTracerProvider())
	c, err := coresdk.NewClient(coresdk.Config{SidecarAddr: addr, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	app := coresdk.Middleware(c)(coresdk.RequirePolicy(c, "data.authz.allow", nil)(http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) {})))
	root, span := provider.Tracer("test").Start(ctx, "test-root")
	req := httptest.NewRequest("GET", "/orders/1", nil).WithContext(root)
	req.Header.Set("Authorization", "Bearer "+w.tokens["admin"])
	res := httptest.NewRecorder()
	app.ServeHTTP(res, req)
	span.End()
	if res.Code != 200 {
		t.Fatalf("%d %s", res.Code, res.Body)
	}
	spans := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range rec.Ended() {
		spans[s.Name()] = s
	}
	for _, name := range []string{"coresdk.verify", "coresdk.evaluate"} {
		s, ok := spans[name]
		if !ok {
			t.Fatalf("no %s span in %v", name, spans)
		}
		attrs := map[attribute.Key]string{}
		for _, kv := range s.Attributes() {
			attrs[kv.Key] = kv.Value.Emit()
		}
		if attrs["coresdk.decision"] != "allow" || attrs["coresdk.tenant"] != "acme-corp" || attrs["coresdk.mode"] != "sidecar" {
			t.Fatalf("%s: %v", name, attrs)
		}
		for _, kv := range s.Attributes() {
			if strings.Contains(kv.Value.Emit(), w.tokens["admin"]) || strings.Contains(kv.Value.Emit(), "admin-1") {
				t.Fatalf("%s: a token or the subject is on the span", name)
			}
		}
		if s.Parent().SpanID() != span.SpanContext().SpanID() {
			t.Fatalf("%s is not a child of the app's span", name)
		}
		if !exported(s.SpanContext().TraceID(), s.SpanContext().SpanID()) {
			t.Fatalf("no exported sidecar span with parent %s (%s)", s.SpanContext().SpanID(), name)
		}
	}
}
