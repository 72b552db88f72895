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
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/coresdk/coresdk/clients/go/coresdk"
)

func TestTheActiveSpanIsTheParentOfTheSidecarSpan(t *testing.T) {
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
	defer receiver.Close()
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
	defer s.stop()
	c, err := coresdk.NewClient(coresdk.Config{SidecarAddr: s.addr, Timeout: 5 * time.Second})
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
	// OTLP Span: trace_id is field 1 (bytes, 16), parent_span_id field 4 (bytes, 8).
	wantTrace := append([]byte{0x0a, 0x10}, tid[:]...)
	wantParent := append([]byte{0x22, 0x08}, sid[:]...)
	for i := 0; i < 200; i++ { // bounded: 10 s for the sidecar's batch export
		mu.Lock()
		for _, body := range traces {
			if bytes.Contains(body, wantTrace) && bytes.Contains(body, wantParent) {
				mu.Unlock()
				return
			}
		}
		n := len(traces)
		mu.Unlock()
		if i == 199 {
			t.Fatalf("no exported sidecar span with parent %s in %d exports", sid, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
