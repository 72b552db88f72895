package coresdk

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/metadata"
)

func TestTheActiveSpanTravelsAsTraceparent(t *testing.T) {
	if md, ok := metadata.FromOutgoingContext(withTraceContext(context.Background())); ok && len(md.Get("traceparent")) > 0 {
		t.Fatal("no span, no traceparent")
	}
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	ts, _ := trace.ParseTraceState("vendor=x")
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled, TraceState: ts})
	ctx := trace.ContextWithSpanContext(context.Background(), sc)
	md, _ := metadata.FromOutgoingContext(withTraceContext(ctx))
	if got := md.Get("traceparent"); len(got) != 1 || got[0] != "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" {
		t.Fatalf("%v", got)
	}
	if got := md.Get("tracestate"); len(got) != 1 || got[0] != "vendor=x" {
		t.Fatalf("%v", got)
	}
}

func TestBreakerStates(t *testing.T) {
	now := time.Unix(1000, 0)
	b := newBreaker(2, time.Second)
	b.now = func() time.Time { return now }
	b.onFailure()
	if b.State() != BreakerClosed || !b.tryAcquire() {
		t.Fatal("one failure keeps it closed")
	}
	b.onFailure()
	if b.State() != BreakerOpen || b.tryAcquire() {
		t.Fatal("two failures open it")
	}
	now = now.Add(time.Second)
	if b.State() != BreakerHalfOpen || !b.tryAcquire() || b.tryAcquire() {
		t.Fatal("half-open: exactly one probe")
	}
	b.release()
	if !b.tryAcquire() {
		t.Fatal("a released probe can be claimed again")
	}
	b.onFailure()
	if b.State() != BreakerOpen {
		t.Fatal("a failed probe reopens it")
	}
	now = now.Add(time.Second)
	b.tryAcquire()
	b.onSuccess()
	if b.State() != BreakerClosed {
		t.Fatal("a successful probe closes it")
	}
}

func TestErrorsMatchByCode(t *testing.T) {
	e := &Error{Code: CodeSidecarTimeout, Message: "x", cause: context.DeadlineExceeded}
	var wrapped error = errors.Join(errors.New("ctx"), e)
	if !errors.Is(wrapped, ErrSidecarTimeout) || errors.Is(wrapped, ErrSidecarUnavailable) || !errors.Is(e, context.DeadlineExceeded) {
		t.Fatal("errors.Is by code")
	}
	if CodeOf(wrapped) != CodeSidecarTimeout || CodeOf(errors.New("x")) != "" || e.Error() != "[ERR_SIDECAR_TIMEOUT] x" {
		t.Fatal("CodeOf / Error")
	}
	if toCode("ERR_NOPE") != CodeInternal || toCode("ERR_TOKEN_EXPIRED") != CodeTokenExpired {
		t.Fatal("toCode")
	}
}

func TestBearerClassification(t *testing.T) {
	for _, tc := range []struct {
		values []string
		kind   credKind
		detail string
	}{
		{nil, credNone, ""},
		{[]string{""}, credNone, ""},
		{[]string{"Basic abc"}, credNone, ""},
		{[]string{"Bearer"}, credMalformed, "the Bearer scheme needs a token"},
		{[]string{"Bearer a b"}, credMalformed, "the bearer token has characters a token cannot have"},
		{[]string{"Bearer a,b"}, credMalformed, "the bearer token has characters a token cannot have"},
		{[]string{"Bearer a", "Bearer a"}, credMalformed, "more than one Authorization header"},
		{[]string{"bEaReR \t abc=="}, credToken, ""},
	} {
		kind, _, detail := bearer(tc.values)
		if kind != tc.kind || detail != tc.detail {
			t.Errorf("%q: %v %q", tc.values, kind, detail)
		}
	}
}
