package coresdk

import (
	"sync"
	"time"
)

// BreakerState is the circuit breaker's state, as Stats reports it.
type BreakerState string

const (
	// BreakerClosed lets calls through.
	BreakerClosed BreakerState = "closed"
	// BreakerOpen fails calls at once (ERR_SIDECAR_UNAVAILABLE) until the reset time has passed.
	BreakerOpen BreakerState = "open"
	// BreakerHalfOpen lets one probe call through; its outcome closes or reopens the breaker.
	BreakerHalfOpen BreakerState = "half-open"
)

// breaker is the Node and Python clients' circuit breaker: threshold
// transport failures in a row open it; open, calls fail at once for reset;
// then one call goes through as a probe. Any answer from the sidecar, even an
// error status, is a success.
type breaker struct {
	mu        sync.Mutex
	threshold int
	reset     time.Duration
	now       func() time.Time
	failures  int
	openedAt  time.Time
	state     BreakerState
	probing   bool
}

func newBreaker(threshold int, reset time.Duration) *breaker {
	return &breaker{threshold: max(1, threshold), reset: reset, now: time.Now, state: BreakerClosed}
}

func (b *breaker) current() BreakerState {
	if b.state == BreakerOpen && b.now().Sub(b.openedAt) >= b.reset {
		return BreakerHalfOpen
	}
	return b.state
}

// State returns the current state (half-open once the reset time has passed).
func (b *breaker) State() BreakerState {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.current()
}

// tryAcquire reports whether a call may go out now (claiming the half-open probe if so).
func (b *breaker) tryAcquire() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.current() {
	case BreakerClosed:
		return true
	case BreakerHalfOpen:
		if !b.probing {
			b.probing = true
			return true
		}
	}
	return false
}

func (b *breaker) onSuccess() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.failures = 0
	b.state = BreakerClosed
	b.probing = false
}

// release: the call ended without telling anything about the sidecar (cancelled).
func (b *breaker) release() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.probing = false
}

func (b *breaker) onFailure() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.probing = false
	b.failures++
	if b.state != BreakerClosed || b.failures >= b.threshold {
		b.state = BreakerOpen
		b.openedAt = b.now()
	}
}
