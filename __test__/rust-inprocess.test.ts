import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { root } from './helpers.js';

// examples/rust-inprocess: the axum service with the engine as its auth
// middleware, run as `cargo run` would (npm test builds it first).
const bin = join(root, 'target', 'debug', process.platform === 'win32' ? 'rust-inprocess.exe' : 'rust-inprocess');

describe('examples/rust-inprocess (axum + Engine::authorize)', () => {
  let child: ChildProcess | undefined;
  let base = '';
  let token = '';

  beforeAll(async () => {
    const [cmd, args] = existsSync(bin) ? [bin, []] : ['cargo', ['run', '-q', '-p', 'rust-inprocess']];
    const env = { ...process.env, CORESDK_LISTEN: '127.0.0.1:0' };
    for (const k of Object.keys(env)) if (k.startsWith('CORESDK_') && k !== 'CORESDK_LISTEN') Reflect.deleteProperty(env, k);
    const proc = spawn(cmd, args, { cwd: join(root, 'examples', 'rust-inprocess'), env, stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    let out = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error(`no "listening" line; output: ${out}`)); }, 240_000);
      proc.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /listening on (http:\/\/\S+)/.exec(out);
        if (m?.[1] !== undefined) {
          clearTimeout(timer);
          base = m[1];
          token = /TOKEN=(\S+)/.exec(out)?.[1] ?? '';
          resolve();
        }
      });
      proc.on('exit', (code) => { clearTimeout(timer); reject(new Error(`exited ${String(code)}: ${out}`)); });
    });
  }, 300_000);

  afterAll(() => {
    child?.kill('SIGTERM');
  });

  it('serves a valid token and names the caller', async () => {
    expect(token).not.toBe('');
    const res = await fetch(`${base}/documents/doc-1`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ document: 'doc-1', read_by: 'alice' });
  });

  it('answers 401 with an RFC 6750 challenge to a bad token', async () => {
    const tampered = `${token.slice(0, -4)}AAAA`;
    for (const bad of ['nope', tampered]) {
      const res = await fetch(`${base}/documents/doc-1`, { headers: { authorization: `Bearer ${bad}` } });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
      expect(res.headers.get('content-type')).toBe('application/problem+json');
      const body = (await res.json()) as { status: number; detail: string };
      expect(body.status).toBe(401);
      expect(body.detail).not.toContain(bad);
    }
    const none = await fetch(`${base}/documents/doc-1`);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer');
  });

  it('answers 403 when the policy denies', async () => {
    const res = await fetch(`${base}/invoices/inv-1`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(403);
  });
});
