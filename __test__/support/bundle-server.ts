/**
 * A loopback HTTPS bundle server speaking OPA's bundle service protocol
 * (`GET`, `ETag`, `If-None-Match` → 304), with failure modes for refusal
 * tests, and a minimal tar writer for archives `opa build` would never
 * write (traversal names, symlinks).
 */
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import { gzipSync } from 'node:zlib';

import type { TestPki } from './https-jwks.js';

/** How a bundle path answers. */
export type BundleMode = { kind: 'serve'; body: Buffer } | { kind: 'status'; status: number } | { kind: 'slow'; body: Buffer };

/** The running server. */
export interface BundleServer {
  readonly port: number;
  url(name: string): string;
  /** Sets what `name` answers; a served body gets an ETag of its hash. */
  set(name: string, mode: BundleMode): void;
  /** Requests seen per name, and how many were answered 304. */
  readonly counts: Map<string, { requests: number; notModified: number; authorization: string[] }>;
  close(): Promise<void>;
}

function etagOf(body: Buffer): string {
  return `"${createHash('sha256').update(body).digest('hex').slice(0, 16)}"`;
}

/** Starts the server on 127.0.0.1 with the PKI's server certificate. */
export async function startBundleServer(pki: TestPki): Promise<BundleServer> {
  const modes = new Map<string, BundleMode>();
  const counts = new Map<string, { requests: number; notModified: number; authorization: string[] }>();
  const server: Server = createServer({ key: pki.serverKeyPem, cert: pki.serverCertPem }, (req, res) => {
    const name = decodeURIComponent((req.url ?? '/').replace(/^\/bundles\//, '').split('?')[0] ?? '');
    const c = counts.get(name) ?? { requests: 0, notModified: 0, authorization: [] };
    counts.set(name, c);
    c.requests++;
    if (typeof req.headers.authorization === 'string') c.authorization.push(req.headers.authorization);
    const mode = modes.get(name);
    if (mode === undefined) {
      res.writeHead(404).end();
      return;
    }
    if (mode.kind === 'status') {
      res.writeHead(mode.status).end('failure');
      return;
    }
    const etag = etagOf(mode.body);
    if (req.headers['if-none-match'] === etag) {
      c.notModified++;
      res.writeHead(304, { etag }).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/gzip', etag, 'content-length': mode.body.length });
    if (mode.kind === 'slow') {
      // Half the body, then nothing: the client's timeout must end it.
      res.write(mode.body.subarray(0, mode.body.length >> 1));
      const t = setTimeout(() => res.destroy(), 30_000);
      res.on('close', () => { clearTimeout(t); });
      return;
    }
    res.end(mode.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
  return {
    port,
    url: (name) => `https://127.0.0.1:${port}/bundles/${name}`,
    set: (name, mode) => modes.set(name, mode),
    counts,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => { resolve(); });
      }),
  };
}

/** One tar entry for {@link tarGz}. */
export interface TarEntry {
  name: string;
  body?: Buffer | string;
  /** `'0'` file (default), `'2'` symlink, `'5'` directory. */
  type?: '0' | '2' | '5';
  linkTarget?: string;
}

function header(e: TarEntry, size: number): Buffer {
  const h = Buffer.alloc(512);
  h.write(e.name, 0, 100, 'utf8');
  h.write('0000644\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(`${size.toString(8).padStart(11, '0')}\0`, 124);
  h.write('00000000000\0', 136);
  h.write('        ', 148);
  h.write(e.type ?? '0', 156);
  if (e.linkTarget !== undefined) h.write(e.linkTarget, 157, 100);
  h.write('ustar\0', 257);
  h.write('00', 263);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return h;
}

/** A gzip-compressed tarball of `entries`, names written exactly as given. */
export function tarGz(entries: TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const body = e.type === '2' || e.type === '5' ? Buffer.alloc(0) : Buffer.from(e.body ?? '');
    parts.push(header(e, body.length), body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(parts));
}

/** Reads a tarball (`opa build` output) into `name → bytes`, names as written. */
export function untarGz(gz: Buffer, gunzip: (b: Buffer) => Buffer): Map<string, Buffer> {
  const tar = gunzip(gz);
  const out = new Map<string, Buffer>();
  let off = 0;
  while (off + 512 <= tar.length) {
    const h = tar.subarray(off, off + 512);
    if (h.every((b) => b === 0)) break;
    const name = h.subarray(0, 100).toString('utf8').replace(/\0.*$/s, '');
    const size = parseInt(h.subarray(124, 136).toString('utf8').replace(/\0.*$/s, '').trim() || '0', 8);
    const type = String.fromCharCode(h[156] ?? 48);
    off += 512;
    if (type === '0' || type === '\0') out.set(name, Buffer.from(tar.subarray(off, off + size)));
    off += Math.ceil(size / 512) * 512;
  }
  return out;
}
