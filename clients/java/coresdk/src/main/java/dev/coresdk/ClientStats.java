package dev.coresdk;

/**
 * Counters for dashboards ({@link CoreSDKClient#stats()}).
 *
 * @param failOpen requests allowed by fail mode {@code OPEN} because the sidecar was unreachable
 * @param failClosed requests denied by fail mode {@code CLOSED} because the sidecar was unreachable
 * @param breaker the circuit breaker's state
 */
public record ClientStats(long failOpen, long failClosed, BreakerState breaker) {}
