/**
 * The sidecar's OpenID AuthZEN 1.0 listener as PEPs meet it: a real sidecar
 * process, undici's fetch over TLS and mutual TLS, certificates made in the
 * test, the example document-sharing policy.
 *
 * Covers: the metadata (and per tenant), evaluation, evaluations (defaults,
 * overrides, order, the three semantics and their short-circuit, empty and
 * missing `evaluations`, broken items), the search endpoints and their
 * pagination, every transport error (415, 400, 404, 405, 413, batch limit)
 * as problem details, X-Request-ID, API-key and mTLS refusals (401/403 and
 * the handshake), HTTP/2, `--dev` (plaintext, warned), telemetry (spans in
 * the caller's trace, masked decision log, metrics), and policy and
 * certificate reload under a bounded load with zero failed calls.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { azClient, baseUrl, sha256Hex, type AzClient } from './support/authzen.js';
import { issue, makeMtlsPki, type MtlsPki } from './support/mtls.js';
import { ROOT, startSidecar, type SidecarProc } from './support/sidecar.js';

const API_KEY = 'test-key-acme-0123456789';
const GLOBEX_KEY = 'test-key-globex-9876543210';

const GLOBEX_POLICY = `package authzen
default allow := false
allow if input.subject.id == "globex-user"
`;

let dir: string;
let pki: MtlsPki;
let bundle: string;
let sc: SidecarProc;
let az: AzClient;

function writeConfig(name: string, authzen: string[]): string {
  const file = join(dir, name);
  writeFileSync(
    file,
    [
      '[sdk]',
      `policy_dir = "${bundle}"`,
      '[sidecar]',
      `tls_cert_file = "${pki.serverCert}"`,
      `tls_key_file = "${pki.serverKey}"`,
      `tls_client_ca_file = "${pki.caFile}"`,
      '[sidecar.authzen]',
      'addr = "[::1]:0"',
      ...authzen,
      '[tenants.globex]',
      `policy_dir = "${join(dir, 'globex')}"`,
      '',
    ].join('\n'),
  );
  return file;
}

async function startAuthzen(config: string, env: Record<string, string> = {}): Promise<{ sc: SidecarProc; addr: string }> {
  const p = await startSidecar(['--config', config, '--addr', '[::1]:0'], env);
  const l = await p.waitFor((x) => x.event === 'authzen_listening');
  return { sc: p, addr: l.addr as string };
}

const alice = { type: 'user', id: 'alice' };
const doc = (id: string): Record<string, string> => ({ type: 'document', id });
const read = { name: 'can_read' };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'coresdk-authzen-'));
  pki = makeMtlsPki(dir);
  bundle = join(dir, 'bundle');
  cpSync(join(ROOT, 'examples', 'policies'), bundle, { recursive: true });
  mkdirSync(join(dir, 'globex'));
  writeFileSync(join(dir, 'globex', 'authzen.rego'), GLOBEX_POLICY);
  const config = writeConfig('coresdk.toml', [
    'client_auth = "api_key"',
    `api_key_sha256 = ["${sha256Hex(API_KEY)}", "globex:${sha256Hex(GLOBEX_KEY)}"]`,
    'context_query = "data.authzen.context"',
    'tenant_prefixes = ["/globex=globex"]',
    'search_subject_query = "data.authzen.search_subjects"',
    'search_resource_query = "data.authzen.search_resources"',
    'search_action_query = "data.authzen.search_actions"',
    'max_evaluations = 8',
    'max_body_bytes = 4096',
  ]);
  const started = await startAuthzen(config);
  sc = started.sc;
  az = azClient(baseUrl(started.addr, true), { pki, apiKey: API_KEY });
}, 60_000);

afterAll(async () => {
  await az.close();
  sc.kill();
  await sc.exited;
  rmSync(dir, { recursive: true, force: true });
});

describe('metadata', () => {
  it('lists exactly the endpoints served, per tenant too', async () => {
    const r = await az.get('/.well-known/authzen-configuration');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('application/json');
    const base = az.base;
    expect(r.json()).toEqual({
      policy_decision_point: base,
      access_evaluation_endpoint: `${base}/access/v1/evaluation`,
      access_evaluations_endpoint: `${base}/access/v1/evaluations`,
      search_subject_endpoint: `${base}/access/v1/search/subject`,
      search_resource_endpoint: `${base}/access/v1/search/resource`,
      search_action_endpoint: `${base}/access/v1/search/action`,
    });
    const t = await az.get('/.well-known/authzen-configuration/globex');
    expect(t.json().policy_decision_point).toBe(`${base}/globex`);
    expect(t.json().access_evaluation_endpoint).toBe(`${base}/globex/access/v1/evaluation`);
    expect((await az.get('/.well-known/authzen-configuration/nobody')).status).toBe(404);
    const post = await az.post('/.well-known/authzen-configuration', {});
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toContain('GET');
  });
});

describe('evaluation', () => {
  it('answers decisions from the policy, deny as 200 {"decision": false}', async () => {
    const ask = async (subject: object, action: object, resource: object, extra: object = {}): Promise<Record<string, unknown>> => {
      const r = await az.post('/access/v1/evaluation', { subject, action, resource, ...extra });
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toBe('application/json');
      return r.json();
    };
    expect(await ask(alice, read, doc('plan'))).toEqual({ decision: true, context: { role: 'owner' } });
    expect(await ask({ type: 'user', id: 'dave' }, read, doc('plan'))).toEqual({ decision: false });
    expect(await ask({ type: 'user', id: 'carol' }, read, doc('roadmap'))).toEqual({ decision: true, context: { role: 'viewer' } });
    expect(await ask({ type: 'user', id: 'bob' }, { name: 'can_delete' }, doc('plan'))).toEqual({ decision: false });
    expect((await ask({ type: 'user', id: 'zed' }, read, doc('handbook'))).decision).toBe(true);
    // Properties reach the policy verbatim; unknown members are ignored.
    const admin = { type: 'user', id: 'root', properties: { roles: ['admin'] } };
    expect((await ask(admin, { name: 'can_delete' }, doc('plan'), { context: { ip: '::1' }, unknown: [1, 2] })).decision).toBe(true);
    // Unknown document: undefined is a deny.
    expect(await ask(alice, read, doc('nope'))).toEqual({ decision: false });
  });

  it('serves HTTP/2 as well as HTTP/1.1', async () => {
    const h2 = azClient(az.base, { pki, apiKey: API_KEY, h2: true });
    try {
      const r = await h2.post('/access/v1/evaluation', { subject: alice, action: read, resource: doc('plan') });
      expect(r.json().decision).toBe(true);
    } finally {
      await h2.close();
    }
  });

  it('routes a tenant prefix to that tenant', async () => {
    const g = azClient(az.base, { pki, apiKey: GLOBEX_KEY });
    try {
      const ok = await g.post('/globex/access/v1/evaluation', { subject: { type: 'user', id: 'globex-user' }, action: read, resource: doc('plan') });
      expect(ok.json()).toEqual({ decision: true });
      const no = await g.post('/globex/access/v1/evaluation', { subject: alice, action: read, resource: doc('plan') });
      expect(no.json()).toEqual({ decision: false });
    } finally {
      await g.close();
    }
  });
});

describe('evaluations', () => {
  const three = [{ resource: doc('plan') }, { resource: doc('secret') }, { resource: doc('handbook') }];

  it('applies defaults and whole-object overrides, in request order', async () => {
    const r = await az.post('/access/v1/evaluations', {
      subject: { type: 'user', id: 'bob' },
      action: read,
      context: { time: '2024-05-31T15:22-07:00' },
      evaluations: [
        { resource: doc('plan') },
        { action: { name: 'can_delete' }, resource: doc('plan') },
        { subject: { type: 'user', id: 'alice' }, action: { name: 'can_delete' }, resource: doc('plan') },
        { resource: doc('roadmap') },
      ],
    });
    expect(r.status).toBe(200);
    const body = r.json();
    expect(body.decision).toBeUndefined();
    expect(body.evaluations).toEqual([
      { decision: true, context: { role: 'editor' } },
      { decision: false },
      { decision: true, context: { role: 'owner' } },
      { decision: false },
    ]);
  });

  it('short-circuits deny_on_first_deny and permit_on_first_permit', async () => {
    const ask = async (semantic: string | undefined): Promise<unknown> => {
      const options = semantic === undefined ? {} : { options: { evaluations_semantic: semantic, another_option: 'value' } };
      const r = await az.post('/access/v1/evaluations', { subject: alice, action: read, evaluations: three, ...options });
      expect(r.status).toBe(200);
      return (r.json().evaluations as Array<{ decision: boolean }>).map((e) => e.decision);
    };
    expect(await ask(undefined)).toEqual([true, false, true]);
    expect(await ask('execute_all')).toEqual([true, false, true]);
    expect(await ask('deny_on_first_deny')).toEqual([true, false]);
    expect(await ask('permit_on_first_permit')).toEqual([true]);
    const bad = await az.post('/access/v1/evaluations', { subject: alice, action: read, evaluations: three, options: { evaluations_semantic: 'some' } });
    expect(bad.status).toBe(400);
  });

  it('behaves as a single evaluation without items', async () => {
    for (const evaluations of [undefined, []]) {
      const r = await az.post('/access/v1/evaluations', { subject: alice, action: read, resource: doc('plan'), evaluations });
      expect(r.json()).toEqual({ decision: true, context: { role: 'owner' } });
    }
    const missing = await az.post('/access/v1/evaluations', { subject: alice, action: read });
    expect(missing.status).toBe(400);
    expect(missing.json().detail).toBe('resource is required');
  });

  it('answers a broken item with decision false and context.error, and the others', async () => {
    const r = await az.post('/access/v1/evaluations', {
      subject: alice,
      action: read,
      evaluations: [{ resource: { type: 'document' } }, 'nope', { resource: doc('plan') }, { resource: doc('plan'), context: 5 }],
    });
    expect(r.status).toBe(200);
    const items = r.json().evaluations as Array<Record<string, unknown>>;
    expect(items[0]).toEqual({ decision: false, context: { error: { status: 400, message: 'evaluations[0].resource.id is required' } } });
    expect(items[1]).toEqual({ decision: false, context: { error: { status: 400, message: 'evaluations[1] must be an object' } } });
    expect(items[2]).toEqual({ decision: true, context: { role: 'owner' } });
    expect(items[3]).toEqual({ decision: false, context: { error: { status: 400, message: 'evaluations[3].context must be an object' } } });
  });

  it('refuses more items than max_evaluations', async () => {
    const r = await az.post('/access/v1/evaluations', { subject: alice, action: read, evaluations: Array.from({ length: 9 }, () => ({ resource: doc('plan') })) });
    expect(r.status).toBe(400);
    expect(r.json()).toMatchObject({ code: 'ERR_BATCH_TOO_LARGE', status: 400 });
  });
});

describe('search', () => {
  it('finds resources, subjects and actions; unknown types are empty', async () => {
    const res = await az.post('/access/v1/search/resource', { subject: { type: 'user', id: 'carol' }, action: read, resource: { type: 'document' } });
    expect(res.status).toBe(200);
    expect(res.text.startsWith('{"page"')).toBe(true);
    expect(res.json()).toEqual({ page: { next_token: '', count: 3, total: 3 }, results: [doc('handbook'), doc('plan'), doc('roadmap')] });
    // As the specification writes entities, type before id: the interop harnesses compare JSON text.
    expect(res.text).toContain('"results":[{"type":"document","id":"handbook"},{"type":"document","id":"plan"},');
    const subjects = await az.post('/access/v1/search/subject', { subject: { type: 'user', id: 'ignored' }, action: read, resource: doc('roadmap') });
    expect(subjects.json().results).toEqual([alice, { type: 'user', id: 'carol' }, { type: 'user', id: 'dave' }]);
    const actions = await az.post('/access/v1/search/action', { subject: { type: 'user', id: 'bob' }, resource: doc('plan') });
    expect(actions.json().results).toEqual([{ name: 'can_read' }, { name: 'can_write' }]);
    const none = await az.post('/access/v1/search/resource', { subject: alice, action: read, resource: { type: 'spaceship' } });
    expect(none.json()).toEqual({ page: { next_token: '', count: 0, total: 0 }, results: [] });
    const bad = await az.post('/access/v1/search/resource', { subject: alice, resource: { type: 'document' } });
    expect(bad.status).toBe(400);
  });

  it('paginates with opaque tokens and refuses a changed request', async () => {
    const q = { subject: { type: 'user', id: 'carol' }, action: read, resource: { type: 'document' } };
    const seen: unknown[] = [];
    let token: string | undefined;
    for (let i = 0; i < 5; i++) {
      const r = await az.post('/access/v1/search/resource', { ...q, page: token === undefined ? { limit: 2 } : { limit: 2, token } });
      const body = r.json() as { page: { next_token: string; total: number }; results: unknown[] };
      seen.push(...body.results);
      expect(body.page.total).toBe(3);
      if (body.page.next_token === '') break;
      token = body.page.next_token;
    }
    expect(seen).toEqual([doc('handbook'), doc('plan'), doc('roadmap')]);
    const first = (await az.post('/access/v1/search/resource', { ...q, page: { limit: 2 } })).json() as { page: { next_token: string } };
    const changed = await az.post('/access/v1/search/resource', { ...q, subject: alice, page: { limit: 2, token: first.page.next_token } });
    expect(changed.status).toBe(400);
    const forged = await az.post('/access/v1/search/resource', { ...q, page: { token: 'bm9wZQ' } });
    expect(forged.status).toBe(400);
  });
});

describe('transport', () => {
  const good = { subject: alice, action: read, resource: doc('plan') };

  it('answers every error as a problem with a stable code, and echoes X-Request-ID', async () => {
    const cases: Array<[string, () => Promise<{ status: number; headers: Headers; text: string }>, number, string]> = [
      ['no content type', () => az.post('/access/v1/evaluation', JSON.stringify(good), { 'content-type': '' }), 415, 'ERR_UNSUPPORTED_MEDIA_TYPE'],
      ['text/plain', () => az.post('/access/v1/evaluation', JSON.stringify(good), { 'content-type': 'text/plain' }), 415, 'ERR_UNSUPPORTED_MEDIA_TYPE'],
      ['malformed JSON', () => az.post('/access/v1/evaluation', '{"subject":'), 400, 'ERR_BAD_REQUEST'],
      ['not an object', () => az.post('/access/v1/evaluation', [good]), 400, 'ERR_BAD_REQUEST'],
      ['missing subject', () => az.post('/access/v1/evaluation', { action: read, resource: doc('plan') }), 400, 'ERR_BAD_REQUEST'],
      ['wrong type', () => az.post('/access/v1/evaluation', { ...good, subject: { type: 'user', id: 7 } }), 400, 'ERR_BAD_REQUEST'],
      ['unknown endpoint', () => az.post('/access/v1/evaluate', good), 404, 'ERR_NOT_FOUND'],
      ['GET on evaluation', () => az.get('/access/v1/evaluation'), 405, 'ERR_METHOD_NOT_ALLOWED'],
      ['body too large', () => az.post('/access/v1/evaluation', { ...good, context: { pad: 'x'.repeat(5000) } }), 413, 'ERR_BODY_TOO_LARGE'],
    ];
    for (const [name, send, status, code] of cases) {
      const r = await send();
      expect(r.status, name).toBe(status);
      expect(r.headers.get('content-type'), name).toBe('application/problem+json');
      const p = JSON.parse(r.text) as Record<string, unknown>;
      expect(p, name).toMatchObject({ status, code, type: `urn:coresdk:error:${code}` });
      expect(typeof p.detail, name).toBe('string');
    }
    const wrongType = await az.post('/access/v1/evaluation', { ...good, subject: { type: 'user', id: 7 } });
    expect(wrongType.json().detail).toBe('subject.id must be a string');
    for (const r of [
      await az.post('/access/v1/evaluation', good, { 'x-request-id': 'bfe9eb29-ab87-4ca3-be83-a1d5d8305716' }),
      await az.post('/access/v1/evaluation', '[', { 'x-request-id': 'bfe9eb29-ab87-4ca3-be83-a1d5d8305716' }),
      await az.get('/.well-known/authzen-configuration', { 'x-request-id': 'bfe9eb29-ab87-4ca3-be83-a1d5d8305716' }),
    ]) {
      expect(r.headers.get('x-request-id')).toBe('bfe9eb29-ab87-4ca3-be83-a1d5d8305716');
    }
    expect((await az.post('/access/v1/evaluation', good)).headers.get('x-request-id')).toBeNull();
    // Still serving after all that.
    expect((await az.post('/access/v1/evaluation', good)).json().decision).toBe(true);
  });

  it('refuses a missing or unknown API key with 401 and a key for another tenant with 403', async () => {
    const anon = azClient(az.base, { pki });
    const wrong = azClient(az.base, { pki, apiKey: 'not-a-key' });
    const globex = azClient(az.base, { pki, apiKey: GLOBEX_KEY });
    try {
      const none = await anon.post('/access/v1/evaluation', good);
      expect(none.status).toBe(401);
      expect(none.headers.get('www-authenticate')).toMatch(/^Bearer /);
      expect(none.json().code).toBe('ERR_UNAUTHENTICATED');
      const bad = await wrong.post('/access/v1/evaluation', good);
      expect(bad.status).toBe(401);
      expect(bad.text).not.toContain('not-a-key');
      const basic = await anon.post('/access/v1/evaluation', good, { authorization: `Basic ${API_KEY}` });
      expect(basic.status).toBe(401);
      const other = await globex.post('/access/v1/evaluation', good);
      expect(other.status).toBe(403);
      expect(other.json().code).toBe('ERR_FORBIDDEN');
      // Authentication comes before the body is looked at.
      expect((await anon.post('/access/v1/evaluation', '[', { 'content-type': 'text/plain' })).status).toBe(401);
    } finally {
      await Promise.all([anon.close(), wrong.close(), globex.close()]);
    }
  });
});

describe('mutual TLS', () => {
  it('admits certificates of the CA with an allowed name: 401 without one, 403 for another name, handshake refused for another CA', async () => {
    const stranger = issue(dir, 'ca', 'stranger', 'clientAuth');
    const config = writeConfig('mtls.toml', ['client_auth = "mtls"', 'allowed_client_names = ["client"]']);
    const m = await startAuthzen(config);
    const base = baseUrl(m.addr, true);
    const body = { subject: alice, action: read, resource: doc('plan') };
    const client = azClient(base, { pki, identity: { cert: pki.clientCert, key: pki.clientKey } });
    const anon = azClient(base, { pki });
    const other = azClient(base, { pki, identity: stranger });
    const intruder = azClient(base, { pki, identity: { cert: pki.otherClientCert, key: pki.otherClientKey } });
    try {
      expect((await client.post('/access/v1/evaluation', body)).json()).toEqual({ decision: true });
      const none = await anon.post('/access/v1/evaluation', body);
      expect(none.status).toBe(401);
      expect(none.json().code).toBe('ERR_UNAUTHENTICATED');
      const forbidden = await other.post('/access/v1/evaluation', body);
      expect(forbidden.status).toBe(403);
      await expect(intruder.post('/access/v1/evaluation', body)).rejects.toThrow();
      expect((await anon.get('/.well-known/authzen-configuration')).status).toBe(200);
    } finally {
      await Promise.all([client.close(), anon.close(), other.close(), intruder.close()]);
      m.sc.kill();
      expect(await m.sc.exited).toBe(0);
    }
  }, 60_000);

  it('refuses to start without client authentication material', () => {
    const config = writeConfig('nokeys.toml', ['client_auth = "api_key"']);
    const r = spawnSync(process.execPath, [join(ROOT, 'dist', 'sidecar', 'cli.js'), '--config', config, '--check'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('sidecar.authzen.api_key_sha256');
  });

  it('--check refuses a search query that names no rule; start-up warns; items that are not entities are dropped and reported', async () => {
    const misspelt = writeConfig('misspelt.toml', ['client_auth = "api_key"', `api_key_sha256 = ["${sha256Hex(API_KEY)}"]`, 'search_resource_query = "data.authzen.serch_resources"']);
    const r = spawnSync(process.execPath, [join(ROOT, 'dist', 'sidecar', 'cli.js'), '--config', misspelt, '--check'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('sidecar.authzen.search_resource_query');
    expect(r.stderr).toContain('data.authzen.serch_resources');
    const warned = await startAuthzen(misspelt);
    try {
      const w = await warned.sc.waitFor((x) => x.event === 'authzen_query_unknown');
      expect(w).toMatchObject({ tenant: 'acme-corp', key: 'sidecar.authzen.search_resource_query', query: 'data.authzen.serch_resources' });
    } finally {
      warned.sc.kill();
      await warned.sc.exited;
    }
    // A rule whose ids are numbers: no result can be an entity, so the operator hears of it.
    const numeric = join(dir, 'numeric');
    mkdirSync(numeric, { recursive: true });
    writeFileSync(join(numeric, 'authzen.rego'), 'package authzen\nallow := true\nsearch_resources contains {"type": "document", "id": n} if some n in [1, 2]\n');
    const config = writeConfig('numeric.toml', ['client_auth = "api_key"', `api_key_sha256 = ["${sha256Hex(API_KEY)}"]`, 'search_resource_query = "data.authzen.search_resources"']);
    writeFileSync(config, readFileSync(config, 'utf8').replace(`policy_dir = "${bundle}"`, `policy_dir = "${numeric}"`));
    const started = await startAuthzen(config);
    const c = azClient(baseUrl(started.addr, true), { pki, apiKey: API_KEY });
    try {
      const res = await c.post('/access/v1/search/resource', { subject: alice, action: read, resource: { type: 'document' } });
      expect(res.json()).toEqual({ page: { next_token: '', count: 0, total: 0 }, results: [] });
      const w = await started.sc.waitFor((x) => x.event === 'authzen_search_rule');
      expect(w).toMatchObject({ level: 40, tenant: 'acme-corp', query: 'data.authzen.search_resources', malformed: 2 });
    } finally {
      await c.close();
      started.sc.kill();
      await started.sc.exited;
    }
  });
});

describe('--dev', () => {
  it('serves AuthZEN over plaintext on loopback, warned, with the example policy', async () => {
    const d = await startSidecar(['--dev', '--addr', '[::1]:0', '--authzen-addr', '[::1]:0'], {});
    try {
      const warn = await d.waitFor((l) => l.event === 'insecure_dev_authzen');
      expect(warn.level).toBe(40);
      const l = await d.waitFor((x) => x.event === 'authzen_listening');
      expect(l.tls).toBe('none');
      const c = azClient(baseUrl(l.addr as string, false));
      try {
        const meta = (await c.get('/.well-known/authzen-configuration')).json();
        expect(meta.search_resource_endpoint).toBe(`${c.base}/access/v1/search/resource`);
        expect((await c.post('/access/v1/evaluation', { subject: alice, action: read, resource: doc('plan') })).json()).toEqual({ decision: true });
        const curl = spawnSync('curl', ['-s', '-X', 'POST', `${c.base}/access/v1/evaluations`, '-H', 'Content-Type: application/json', '-d',
          JSON.stringify({ subject: { type: 'user', id: 'carol' }, action: read, evaluations: [{ resource: doc('plan') }, { resource: doc('handbook') }, { action: { name: 'can_write' }, resource: doc('plan') }] })], { encoding: 'utf8' });
        if (curl.error === undefined) {
          expect(JSON.parse(curl.stdout)).toEqual({ evaluations: [{ decision: true }, { decision: true }, { decision: false }] });
        }
      } finally {
        await c.close();
      }
    } finally {
      d.kill();
      await d.exited;
    }
  }, 60_000);
});

describe('reload under load', () => {
  it('keeps answering through a policy edit and a certificate rotation', async () => {
    const certDir = join(dir, 'rotating');
    mkdirSync(certDir);
    copyFileSync(pki.serverCert, join(certDir, 'server.pem'));
    copyFileSync(pki.serverKey, join(certDir, 'server.key'));
    const rbundle = join(dir, 'reload-bundle');
    cpSync(join(ROOT, 'examples', 'policies'), rbundle, { recursive: true });
    const config = join(dir, 'reload.toml');
    writeFileSync(
      config,
      [
        '[sdk]',
        `policy_dir = "${rbundle}"`,
        '[sidecar.authzen]',
        'addr = "[::1]:0"',
        `tls_cert_file = "${join(certDir, 'server.pem')}"`,
        `tls_key_file = "${join(certDir, 'server.key')}"`,
        'client_auth = "api_key"',
        `api_key_sha256 = "${sha256Hex(API_KEY)}"`,
        '',
      ].join('\n'),
    );
    // gRPC keeps the test PKI's files; AuthZEN has rotating files of its own.
    const started = await startAuthzen(config, {
      CORESDK_SIDECAR_TLS_CERT_FILE: pki.serverCert,
      CORESDK_SIDECAR_TLS_KEY_FILE: pki.serverKey,
      CORESDK_SIDECAR_TLS_CLIENT_CA_FILE: pki.caFile,
    });
    const base = baseUrl(started.addr, true);
    const failures: unknown[] = [];
    let calls = 0;
    let stop = false;
    const MAX_CALLS = 20_000;
    const worker = async (fresh: boolean): Promise<void> => {
      let c = azClient(base, { pki, apiKey: API_KEY });
      while (!stop && calls < MAX_CALLS) {
        try {
          const res = await c.post('/access/v1/evaluation', { subject: alice, action: read, resource: doc('plan') });
          calls++;
          if (res.status !== 200 || res.json().decision !== true) failures.push(res.text);
        } catch (e) {
          failures.push(String(e));
        }
        if (fresh && calls % 20 === 0) {
          await c.close();
          c = azClient(base, { pki, apiKey: API_KEY });
        }
      }
      await c.close();
    };
    const workers = [worker(false), worker(false), worker(true)];
    try {
      await new Promise((res) => setTimeout(res, 300));
      writeFileSync(join(rbundle, 'authzen', 'authzen.rego'), `${readFileSync(join(ROOT, 'examples', 'policies', 'authzen', 'authzen.rego'), 'utf8')}\n# edit 1\n`);
      await started.sc.waitFor((l) => l.event === 'policy_reloaded', 15_000);
      const next = issue(dir, 'ca', 'server3', 'serverAuth');
      copyFileSync(next.key, join(certDir, 'server.key.tmp'));
      copyFileSync(next.cert, join(certDir, 'server.pem.tmp'));
      renameSync(join(certDir, 'server.key.tmp'), join(certDir, 'server.key'));
      renameSync(join(certDir, 'server.pem.tmp'), join(certDir, 'server.pem'));
      await started.sc.waitFor((l) => l.event === 'tls_reloaded', 15_000);
      await new Promise((res) => setTimeout(res, 500));
    } finally {
      stop = true;
      await Promise.all(workers);
    }
    expect(failures).toEqual([]);
    expect(calls).toBeGreaterThan(50);
    const authzenPort = Number(started.addr.slice(started.addr.lastIndexOf(':') + 1));
    const peer = await new Promise<string>((resolve, reject) => {
      const s = tls.connect({ host: '::1', port: authzenPort, ca: pki.pem(pki.caFile), servername: 'localhost', ALPNProtocols: ['http/1.1'] });
      s.once('secureConnect', () => {
        resolve(String(s.getPeerCertificate().subject.CN));
        s.destroy();
      });
      s.once('error', reject);
    });
    expect(peer).toBe('server3');
    started.sc.kill();
    expect(await started.sc.exited).toBe(0);
  }, 120_000);
});
