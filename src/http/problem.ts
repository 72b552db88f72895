/**
 * RFC 9457 problem details for authorization failures, and the RFC 6750
 * `WWW-Authenticate` challenges that go with them.
 *
 * Every problem has a stable `type` URI, a `title`, `status` (equal to the
 * HTTP status), `detail`, `instance` (the request path), and the extension
 * members `code` (a CoreSDK error code) and `trace_id` (when the request has
 * a W3C `traceparent`). Tokens and claims are never echoed.
 *
 * @packageDocumentation
 */
import { PROBLEM_TYPE_BASE as CONTRACT_TYPE_BASE, PROBLEMS, type ContractProblemKind } from '../generated/contract.js';

/** The base of every problem `type` URI. */
export const PROBLEM_TYPE_BASE = CONTRACT_TYPE_BASE;

/** The kinds of problem the middleware answers with (`proto/contract/errors.json`). */
export type ProblemKind = ContractProblemKind;

/** An RFC 9457 problem document. */
export interface ProblemDetails {
  /** A stable URI naming the problem. */
  type: string;
  /** A short summary, the same for every occurrence. */
  title: string;
  /** The HTTP status code. */
  status: number;
  /** What went wrong in this occurrence (never a token or claim). */
  detail: string;
  /** The request path. */
  instance: string;
  /** The CoreSDK error code (`ERR_TOKEN_EXPIRED`, `ERR_POLICY_DENIED`, ...). */
  code: string;
  /** The W3C trace id of the request, when it carried a `traceparent`. */
  trace_id?: string;
}

/** A response ready to send: status, headers and the JSON body. */
export interface ProblemResponse {
  status: number;
  headers: Record<string, string>;
  body: ProblemDetails;
}

/** The trace id of a W3C `traceparent` header, if valid. */
export function traceIdOf(traceparent: string | string[] | undefined): string | undefined {
  const v = Array.isArray(traceparent) ? traceparent[0] : traceparent;
  const m = v === undefined ? null : /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/.exec(v.trim());
  return m?.[1] !== undefined && m[1] !== '0'.repeat(32) ? m[1] : undefined;
}

function quote(s: string): string {
  // RFC 6750 §3: error_description uses %x20-21 / %x23-5B / %x5D-7E only.
  return s.replace(/[^\x20\x21\x23-\x5b\x5d-\x7e]/g, '');
}

/**
 * Builds a problem response. 401s carry `WWW-Authenticate: Bearer` (with
 * `error="invalid_token"` for a rejected token, without an error code for a
 * missing one); 400 carries `error="invalid_request"`; 503 carries
 * `Retry-After`.
 */
export function problem(kind: ProblemKind, args: { detail: string; code: string; instance: string; traceId?: string | undefined; realm?: string }): ProblemResponse {
  const k = PROBLEMS[kind];
  const headers: Record<string, string> = { 'content-type': 'application/problem+json', 'cache-control': 'no-store' };
  const realm = `realm="${quote(args.realm ?? 'coresdk')}"`;
  if (kind === 'missing-credentials') headers['www-authenticate'] = `Bearer ${realm}`;
  if (kind === 'invalid-token') headers['www-authenticate'] = `Bearer ${realm}, error="invalid_token", error_description="${quote(args.detail)}"`;
  if (kind === 'invalid-request') headers['www-authenticate'] = `Bearer ${realm}, error="invalid_request", error_description="${quote(args.detail)}"`;
  if (kind === 'authorization-unavailable') headers['retry-after'] = '1';
  const body: ProblemDetails = {
    type: PROBLEM_TYPE_BASE + kind,
    title: k.title,
    status: k.status,
    detail: args.detail,
    instance: args.instance,
    code: args.code,
  };
  if (args.traceId !== undefined) body.trace_id = args.traceId;
  return { status: k.status, headers, body };
}
