/**
 * The framework-independent core of the middleware: from a request's raw
 * headers to "claims" or a problem response, and the policy guard.
 *
 * @packageDocumentation
 */
import { SpanStatusCode, trace } from '@opentelemetry/api';

import type { CoreSDKClient } from '../client/client.js';
import { isTransportFailure } from '../client/client.js';
import type { CoreSDKError } from '../errors.js';
import { decisionLog } from '../otel/decision-log.js';
import { authzInstruments } from '../otel/instruments.js';
import { ERRORS, POLICY_DENIED_CODE, PROBLEMS } from '../generated/contract.js';
import { bearerFromRawHeaders } from './bearer.js';
import { problem, traceIdOf, type ProblemResponse } from './problem.js';

/** Verified claims, as the middleware puts them on the request. */
export type Claims = Record<string, unknown>;

/** Options shared by the Express middleware and the Fastify plugin. */
export interface AuthOptions<Req> {
  /** The client (in-process or sidecar). */
  client: CoreSDKClient;
  /** Answer 401 to a request without a bearer token (default `true`); `false` lets it through with `null` claims. */
  requireToken?: boolean;
  /** A policy query `authorize` evaluates with the claims; default: verification only. */
  query?: string;
  /** The policy input for `query` (claims are added as `input.claims`). */
  input?: (req: Req) => Record<string, unknown>;
  /** The `realm` of `WWW-Authenticate` challenges. Default `coresdk`. */
  realm?: string;
}

/** What the middleware decided about a request. */
export type AuthOutcome =
  /** Go on; `claims` is null for an anonymous request or a fail-open. */
  | { ok: true; claims: Claims | null; degraded: boolean }
  /** Answer with this problem. */
  | { ok: false; problem: ProblemResponse };

/** The request facts the core needs. */
export interface RequestFacts {
  rawHeaders: readonly string[];
  path: string;
  traceparent: string | string[] | undefined;
}

/** The problem for a failed authorization, by error code. */
export function problemFor(error: CoreSDKError | undefined, facts: RequestFacts, realm: string | undefined, denied: string): ProblemResponse {
  const common = { instance: facts.path, traceId: traceIdOf(facts.traceparent), realm };
  if (error === undefined) return problem('forbidden', { ...common, code: POLICY_DENIED_CODE, detail: denied });
  // The contract (proto/contract/errors.json) says which problem each code is and with what detail.
  const spec = ERRORS[error.code];
  const detail = spec.detail ?? PROBLEMS[spec.problem].detail ?? 'the request could not be authorized';
  return problem(spec.problem, { ...common, code: error.code, detail });
}

/** Authenticates one request. Never throws. */
export async function authenticate<Req>(facts: RequestFacts, req: Req, opts: AuthOptions<Req>): Promise<AuthOutcome> {
  const creds = bearerFromRawHeaders(facts.rawHeaders);
  const common = { instance: facts.path, traceId: traceIdOf(facts.traceparent), realm: opts.realm };
  if (creds.kind === 'malformed') return { ok: false, problem: problem('invalid-request', { ...common, code: 'ERR_TOKEN_MALFORMED', detail: creds.detail }) };
  if (creds.kind === 'none') {
    if (opts.requireToken === false) return { ok: true, claims: null, degraded: false };
    return { ok: false, problem: problem('missing-credentials', { ...common, code: 'ERR_TOKEN_MISSING', detail: 'a bearer token is required' }) };
  }
  let input: Record<string, unknown> | undefined;
  try {
    input = opts.input?.(req);
  } catch {
    return { ok: false, problem: problem('authorization-error', { ...common, code: 'ERR_INPUT_INVALID', detail: 'the policy input could not be built' }) };
  }
  const r = await traced(opts.query === undefined ? 'coresdk.verify' : 'coresdk.authorize', opts.client, opts.query, input, () =>
    opts.query === undefined ? opts.client.verifyToken(creds.token) : opts.client.authorize(creds.token, { query: opts.query, input }),
  );
  if (r.allowed) return { ok: true, claims: r.claims, degraded: r.degraded };
  return { ok: false, problem: problemFor(r.error, facts, opts.realm, 'the policy denied this request') };
}

/**
 * Evaluates a route's policy with the request's claims as `input.claims`,
 * in a `coresdk.evaluate` span. Never throws.
 */
export async function guard(client: CoreSDKClient, query: string, input: Record<string, unknown>, claims: Claims | null, facts: RequestFacts, realm?: string): Promise<ProblemResponse | undefined> {
  const r = await traced('coresdk.evaluate', client, query, input, () => client.isAllowed(query, { ...input, claims }));
  if (r.allowed) return undefined;
  if (r.error !== undefined && !isTransportFailure(r.error) && r.error.code.startsWith('ERR_TOKEN')) return problemFor(r.error, facts, realm, '');
  return problemFor(r.error, facts, realm, `the policy ${query} denied this request`);
}

/** What {@link traced} reads from a client result. */
interface Outcome {
  readonly allowed: boolean;
  readonly reason: string;
  readonly degraded: boolean;
  readonly error?: CoreSDKError | undefined;
  readonly revision?: string | undefined;
}

/**
 * Runs one authorization in a span (`coresdk.authorize`, `coresdk.verify`
 * or `coresdk.evaluate`)
 * carrying the decision, reason, policy revision and tenant (never the
 * subject, claims or token), records the decision metrics and hands the
 * decision to the decision log. A no-op without a registered OpenTelemetry
 * SDK. Through the sidecar, the span's context travels as `traceparent`, so
 * the sidecar's own span is its child.
 */
async function traced<R extends Outcome>(
  name: string,
  client: CoreSDKClient,
  query: string | undefined,
  input: Record<string, unknown> | undefined,
  fn: () => Promise<R>,
): Promise<R> {
  const started = performance.now();
  return trace.getTracer('coresdk').startActiveSpan(name, async (span) => {
    const r = await fn();
    const decision = r.degraded ? 'fail-open' : r.allowed ? 'allow' : 'deny';
    const tenant = client.config.tenantId === '' ? 'default' : client.config.tenantId;
    span.setAttributes({
      'coresdk.decision': decision,
      'coresdk.reason': r.reason,
      'coresdk.mode': client.config.mode,
      'coresdk.tenant': tenant,
    });
    if (r.revision !== undefined) span.setAttribute('coresdk.policy.revision', r.revision);
    if (r.error !== undefined && !r.error.code.startsWith('ERR_TOKEN')) span.setStatus({ code: SpanStatusCode.ERROR, message: r.error.code });
    span.end();
    const seconds = (performance.now() - started) / 1000;
    const { decisions, duration } = authzInstruments();
    decisions.add(1, { decision, reason: r.reason });
    duration.record(seconds, { decision });
    const sc = span.spanContext();
    decisionLog()?.record({
      time: Date.now(),
      decision,
      reason: r.reason,
      query,
      tenant,
      revision: r.revision,
      mode: client.config.mode,
      durationMs: seconds * 1000,
      spanContext: trace.isSpanContextValid(sc) ? sc : undefined,
      input,
    });
    return r;
  });
}
