/**
 * HTTP clients for the sidecar's AuthZEN listener: undici's `fetch` with an
 * `Agent` carrying the test CA (and a client certificate for mTLS).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

import { Agent, fetch } from 'undici';

import type { MtlsPki } from './mtls.js';

/** A response as the tests look at it. */
export interface AzResponse {
  status: number;
  headers: Headers;
  text: string;
  /** The body as JSON (throws when it is not). */
  json(): Record<string, unknown>;
}

/** How a client connects. */
export interface AzClientOptions {
  /** The test PKI, for the CA (HTTPS); omitted means plaintext. */
  pki?: MtlsPki;
  /** A client identity for mTLS: cert and key files. */
  identity?: { cert: string; key: string };
  /** `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  /** Negotiate HTTP/2. */
  h2?: boolean;
}

/** An AuthZEN client bound to one base URL. */
export interface AzClient {
  base: string;
  /** POSTs `body` (JSON-encoded unless a string) with `application/json` unless `headers` says otherwise. */
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<AzResponse>;
  get(path: string, headers?: Record<string, string>): Promise<AzResponse>;
  close(): Promise<void>;
}

/** `https://[::1]:port` (or `http://` without a PKI) for a bound address. */
export function baseUrl(addr: string, https: boolean): string {
  return `${https ? 'https' : 'http'}://${addr}`;
}

/** The SHA-256 hex digest the sidecar is configured with for `key`. */
export function sha256Hex(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** A client for `base`. */
export function azClient(base: string, opts: AzClientOptions = {}): AzClient {
  const connect: Record<string, unknown> = {};
  if (opts.pki) connect.ca = readFileSync(opts.pki.caFile);
  if (opts.identity) {
    connect.cert = readFileSync(opts.identity.cert);
    connect.key = readFileSync(opts.identity.key);
  }
  const dispatcher = new Agent({ connect, allowH2: opts.h2 === true, keepAliveTimeout: 10_000 });
  const send = async (method: string, path: string, body: string | undefined, headers: Record<string, string>): Promise<AzResponse> => {
    const h: Record<string, string> = { ...headers };
    if (opts.apiKey !== undefined && h.authorization === undefined) h.authorization = `Bearer ${opts.apiKey}`;
    const res = await fetch(`${base}${path}`, { method, headers: h, body, dispatcher });
    const text = await res.text();
    return { status: res.status, headers: res.headers as unknown as Headers, text, json: () => JSON.parse(text) as Record<string, unknown> };
  };
  return {
    base,
    post: (path, body, headers = {}) =>
      send('POST', path, typeof body === 'string' ? body : JSON.stringify(body), { 'content-type': 'application/json', ...headers }),
    get: (path, headers = {}) => send('GET', path, undefined, headers),
    close: () => dispatcher.close(),
  };
}
