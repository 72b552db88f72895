package coresdk

import (
	"context"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
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

// The middleware's spans and metrics, the same as the Node and Python
// middleware's: a coresdk.verify / coresdk.authorize / coresdk.evaluate span
// around each decision (attributes: decision, reason, mode, tenant, policy
// revision; never the subject, claims or token), the coresdk.authz.decisions
// counter and the coresdk.authz.decision.duration histogram. They go to the
// global OpenTelemetry providers, which are no-ops until the application
// installs an SDK.

var (
	instrumentsOnce sync.Once
	decisionCounter metric.Int64Counter
	decisionSeconds metric.Float64Histogram
)

func instruments() (metric.Int64Counter, metric.Float64Histogram) {
	instrumentsOnce.Do(func() {
		m := otel.Meter("coresdk")
		// Errors leave no-op instruments: telemetry never fails a request.
		decisionCounter, _ = m.Int64Counter("coresdk.authz.decisions", metric.WithDescription("Authorization decisions, by decision and reason"))
		decisionSeconds, _ = m.Float64Histogram("coresdk.authz.decision.duration", metric.WithUnit("s"), metric.WithDescription("Authorization decision time"))
	})
	return decisionCounter, decisionSeconds
}

// decisionSpan is one decision's span; end records it.
type decisionSpan struct {
	span    trace.Span
	tenant  string
	started time.Time
}

func startDecision(ctx context.Context, name, tenant string) (context.Context, *decisionSpan) {
	if tenant == "" {
		tenant = "default"
	}
	ctx, span := otel.Tracer("coresdk").Start(ctx, name)
	return ctx, &decisionSpan{span: span, tenant: tenant, started: time.Now()}
}

func (d *decisionSpan) end(allowed, degraded bool, reason, revision string, err *Error) {
	defer d.span.End()
	decision := "deny"
	if degraded {
		decision = "fail-open"
	} else if allowed {
		decision = "allow"
	}
	if d.span.IsRecording() {
		d.span.SetAttributes(
			attribute.String("coresdk.decision", decision),
			attribute.String("coresdk.reason", reason),
			attribute.String("coresdk.mode", "sidecar"),
			attribute.String("coresdk.tenant", d.tenant),
		)
		if revision != "" {
			d.span.SetAttributes(attribute.String("coresdk.policy.revision", revision))
		}
		if err != nil && !strings.HasPrefix(string(err.Code), "ERR_TOKEN") {
			d.span.SetStatus(codes.Error, string(err.Code))
		}
	}
	counter, hist := instruments()
	ctx := context.Background()
	counter.Add(ctx, 1, metric.WithAttributes(attribute.String("decision", decision), attribute.String("reason", reason)))
	hist.Record(ctx, time.Since(d.started).Seconds(), metric.WithAttributes(attribute.String("decision", decision)))
}
