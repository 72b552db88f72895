/**
 * OPA as the oracle of the differential test (`__test__/opa.differential.test.ts`):
 * the pinned OPA (`bench/tools/ensure-opa.mjs`) run as a server on a free
 * loopback port, fed one generated policy and its data at a time through its
 * REST API, and asked for rule values with strict builtin errors
 * (`POST /v1/data/<path>?strict-builtin-errors=true`, so that a builtin's
 * error raises as it does in CoreSDK instead of making the expression
 * undefined).
 *
 * Also the canonical form answers are compared in: JSON text with object keys
 * sorted and every number written as its exact decimal value, so that OPA's
 * arbitrary-precision numbers (`100.0000000000000001`) are not rounded on the
 * way and `1`, `1.0` and `1e0` compare equal.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';

import { isLosslessNumber, parse } from 'lossless-json';
import { Pool } from 'undici';

/** What an evaluator answered for one rule query and one input. */
export type Outcome =
  | { readonly kind: 'value'; readonly canon: string }
  | { readonly kind: 'undefined' }
  | { readonly kind: 'error'; readonly code: string; readonly message: string };

/** The outcome of loading a policy into OPA. */
export type LoadResult = { readonly ok: true } | { readonly ok: false; readonly code: string; readonly message: string };

/** Text of an outcome for messages: `value <json>`, `undefined`, `error <code>: <message>`. */
export function outcomeText(o: Outcome): string {
  if (o.kind === 'value') return `value ${o.canon}`;
  if (o.kind === 'undefined') return 'undefined';
  return `error ${o.code}: ${o.message}`;
}

const NUMBER = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/;

/**
 * The exact decimal value of a JSON number's text, written one way only:
 * no sign on zero, no leading or trailing zeros, plain digits for exponents
 * of moderate size and `<digits>e<exp>` beyond.
 */
export function canonicalNumber(text: string): string {
  const m = NUMBER.exec(text);
  if (!m) return `NaN(${text})`;
  const sign = m[1] ?? '';
  const int = m[2] ?? '';
  const frac = m[3] ?? '';
  let digits = (int + frac).replace(/^0+/, '');
  if (digits === '') return '0';
  let exp = Number(m[4] ?? '0') - frac.length;
  const trimmed = digits.replace(/0+$/, '');
  exp += digits.length - trimmed.length;
  digits = trimmed;
  if (exp >= 0 && exp <= 30) return sign + digits + '0'.repeat(exp);
  if (exp < 0 && -exp <= 30) {
    const point = digits.length + exp;
    return point > 0 ? `${sign}${digits.slice(0, point)}.${digits.slice(point)}` : `${sign}0.${'0'.repeat(-point)}${digits}`;
  }
  return `${sign}${digits}e${exp}`;
}

/**
 * Canonical JSON text of a value: a JS value (numbers, `bigint`s,
 * lossless-json numbers), object keys sorted, every number exact. When
 * `sortTop` is set and the value is an array (a partial set), its elements
 * are sorted by their canonical text.
 */
export function canonicalValue(v: unknown, sortTop = false): string {
  const c = (x: unknown): string => {
    if (x === null) return 'null';
    if (typeof x === 'bigint') return canonicalNumber(x.toString());
    if (typeof x === 'number') return Number.isFinite(x) ? canonicalNumber(String(x)) : `NaN(${String(x)})`;
    if (isLosslessNumber(x)) return canonicalNumber(x.value);
    if (typeof x === 'string' || typeof x === 'boolean') return JSON.stringify(x);
    if (Array.isArray(x)) return `[${x.map(c).join(',')}]`;
    if (typeof x === 'object') {
      const o = x as Record<string, unknown>;
      return `{${Object.keys(o)
        .sort()
        .map((k) => `${JSON.stringify(k)}:${c(o[k])}`)
        .join(',')}}`;
    }
    return `UNSUPPORTED(${typeof x})`;
  };
  if (sortTop && Array.isArray(v)) return `[${v.map(c).sort().join(',')}]`;
  return c(v);
}

/** Canonical JSON text of JSON text (numbers read exactly). */
export function canonicalJsonText(text: string, sortTop = false): string {
  return canonicalValue(parse(text), sortTop);
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a !== null ? a.port : 0;
      s.close(() => {
        resolve(port);
      });
    });
  });
}

interface OpaErrorBody {
  code?: string;
  message?: string;
  errors?: Array<{ code?: string; message?: string }>;
}

function errorOf(status: number, text: string): { code: string; message: string } {
  try {
    const b = JSON.parse(text) as OpaErrorBody;
    const first = b.errors?.[0];
    return { code: first?.code ?? b.code ?? `http_${status}`, message: (first?.message ?? b.message ?? text).slice(0, 300) };
  } catch {
    return { code: `http_${status}`, message: text.slice(0, 300) };
  }
}

/** Path of the OPA binary of the pinned version (installs it with `go install` when missing). */
export function opaBinary(root: string): string {
  return execFileSync(process.execPath, [join(root, 'bench', 'tools', 'ensure-opa.mjs')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
}

/** A running `opa run --server` on a loopback port, and the calls the differential test makes. */
export class OpaOracle {
  readonly #proc: ChildProcess;
  readonly #pool: Pool;
  /** `http://127.0.0.1:<port>`. */
  readonly base: string;

  private constructor(proc: ChildProcess, base: string) {
    this.#proc = proc;
    this.base = base;
    this.#pool = new Pool(base, { connections: 8, pipelining: 1 });
  }

  /** Starts OPA (`bin`) on a free loopback port; resolves once `/health` answers. */
  static async start(bin: string): Promise<OpaOracle> {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const proc = spawn(bin, ['run', '--server', '--addr', `127.0.0.1:${port}`, '--log-level', 'error', '--skip-version-check'], { stdio: ['ignore', 'ignore', 'inherit'] });
    const oracle = new OpaOracle(proc, base);
    for (let i = 0; i <= 300; i++) {
      try {
        const r = await oracle.#request('GET', '/health');
        if (r.status === 200) return oracle;
      } catch {
        // not up yet
      }
      if (proc.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await oracle.stop();
    throw new Error('opa did not start within 30 s');
  }

  async #request(method: 'GET' | 'PUT' | 'POST' | 'DELETE', path: string, body?: string, contentType = 'application/json'): Promise<{ status: number; text: string }> {
    const r = await this.#pool.request({ method, path, body, headers: body === undefined ? {} : { 'content-type': contentType }, headersTimeout: 60_000, bodyTimeout: 60_000 });
    return { status: r.statusCode, text: await r.body.text() };
  }

  /**
   * Loads a policy (`PUT /v1/policies/<id>`) and the data it reads
   * (`PUT /v1/data/<dataPath>`, JSON text). A compile error is `{ ok: false }`
   * with OPA's first error code (`rego_type_error`, `rego_unsafe_var_error`, ...).
   */
  async load(id: string, source: string, dataPath: readonly string[], dataJson: string): Promise<LoadResult> {
    const d = await this.#request('PUT', `/v1/data/${dataPath.map(encodeURIComponent).join('/')}`, dataJson);
    if (d.status !== 204 && d.status !== 200) throw new Error(`opa refused the data of ${id}: ${d.status} ${d.text}`);
    const p = await this.#request('PUT', `/v1/policies/${encodeURIComponent(id)}`, source, 'text/plain');
    if (p.status === 200) return { ok: true };
    if (p.status === 400) return { ok: false, ...errorOf(p.status, p.text) };
    throw new Error(`opa: PUT /v1/policies/${id}: ${p.status} ${p.text}`);
  }

  /** Removes what {@link OpaOracle.load} loaded. */
  async unload(id: string, dataPath: readonly string[]): Promise<void> {
    await this.#request('DELETE', `/v1/policies/${encodeURIComponent(id)}`);
    await this.#request('DELETE', `/v1/data/${dataPath.map(encodeURIComponent).join('/')}`);
  }

  /**
   * Evaluates `query` (`data.a.b.c`) on the input given as JSON text, with
   * strict builtin errors. A 200 with `result` is a value, without it
   * undefined; anything else (500 with `eval_conflict_error`,
   * `eval_type_error`, `eval_builtin_error`, ...) is an error.
   */
  async evaluate(query: string, inputJson: string, sortTop = false): Promise<Outcome> {
    const path = query.replace(/^data\./, '').split('.').map(encodeURIComponent).join('/');
    const r = await this.#request('POST', `/v1/data/${path}?strict-builtin-errors=true`, `{"input":${inputJson}}`);
    if (r.status !== 200) return { kind: 'error', ...errorOf(r.status, r.text) };
    const body = parse(r.text) as Record<string, unknown>;
    if (!('result' in body)) return { kind: 'undefined' };
    return { kind: 'value', canon: canonicalValue(body.result, sortTop) };
  }

  /** Stops the server. */
  async stop(): Promise<void> {
    await this.#pool.close();
    if (this.#proc.exitCode === null) {
      const exited = new Promise<void>((resolve) => this.#proc.once('exit', () => { resolve(); }));
      this.#proc.kill();
      await exited;
    }
  }
}
