/**
 * Reads the bearer token of a request as RFC 6750 §2.1 says: exactly one
 * `Authorization` header, scheme `Bearer` in any case, one space or more,
 * then a b64token. Anything else is classified so the middleware can answer
 * 400 (malformed) or 401 (absent) correctly.
 *
 * Node keeps only the first `Authorization` header in `req.headers`, so the
 * raw header list is what tells whether there were several.
 *
 * @packageDocumentation
 */

/** What the `Authorization` header holds. */
export type BearerCredentials =
  /** No `Authorization` header, or another scheme (Basic...): challenge without an error code. */
  | { kind: 'none' }
  /** A well-formed bearer token (still to be verified). */
  | { kind: 'token'; token: string }
  /** Malformed: several headers, an empty or garbled token (RFC 6750 `invalid_request`, 400). */
  | { kind: 'malformed'; detail: string };

const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/** Classifies the request's credentials from its raw header list (`IncomingMessage.rawHeaders`). */
export function bearerFromRawHeaders(rawHeaders: readonly string[]): BearerCredentials {
  const values: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    if (rawHeaders[i]?.toLowerCase() === 'authorization') values.push(rawHeaders[i + 1] ?? '');
  }
  if (values.length === 0) return { kind: 'none' };
  if (values.length > 1) return { kind: 'malformed', detail: 'more than one Authorization header' };
  const value = (values[0] ?? '').trim();
  const sp = value.search(/\s/);
  const scheme = sp < 0 ? value : value.slice(0, sp);
  if (scheme.toLowerCase() !== 'bearer') return { kind: 'none' };
  const token = sp < 0 ? '' : value.slice(sp).trim();
  if (token === '') return { kind: 'malformed', detail: 'the Bearer scheme needs a token' };
  if (!B64TOKEN.test(token)) return { kind: 'malformed', detail: 'the bearer token has characters a token cannot have' };
  return { kind: 'token', token };
}
