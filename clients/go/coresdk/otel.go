package coresdk

import (
	"context"

	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/metadata"
)

// withTraceContext adds the active OpenTelemetry span of ctx, if any, as W3C
// traceparent (and tracestate) call metadata. It is set directly rather than
// through the global propagator: the sidecar reads exactly this header, so
// its span for the call is the application's child. Without OpenTelemetry in
// the application there is no span in ctx, and nothing is added.
func withTraceContext(ctx context.Context) context.Context {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return ctx
	}
	flags := "00"
	if sc.IsSampled() {
		flags = "01"
	}
	kv := []string{"traceparent", "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-" + flags}
	if ts := sc.TraceState().String(); ts != "" {
		kv = append(kv, "tracestate", ts)
	}
	return metadata.AppendToOutgoingContext(ctx, kv...)
}
