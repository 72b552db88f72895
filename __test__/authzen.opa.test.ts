/**
 * A second opinion on the AuthZEN listener's decisions: the same requests
 * against OPA (`opa run --server`, the pinned version from
 * `bench/tools/ensure-opa.mjs`, installed with `go install` when missing)
 * serving the same bundle, through OPA's REST API (`POST /v1/data/...`).
 * Every decision, and every search result set, must be the same.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

import { fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { azClient, baseUrl, type AzClient } from './support/authzen.js';
import { freePort } from './support/opa-oracle.js';
import { ROOT, startSidecar, type SidecarProc } from './support/sidecar.js';

const BUNDLE = join(ROOT, 'examples', 'policies');

let opa: ChildProcess;
let opaBase: string;
let sc: SidecarProc;
let az: AzClient;


async function opaData(path: string, input: unknown): Promise<unknown> {
  const r = await fetch(`${opaBase}/v1/data/${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ input }) });
  expect(r.status).toBe(200);
  return ((await r.json()) as { result?: unknown }).result;
}

beforeAll(async () => {
  const bin = execFileSync(process.execPath, [join(ROOT, 'bench', 'tools', 'ensure-opa.mjs')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
  const port = await freePort();
  opaBase = `http://127.0.0.1:${port}`;
  opa = spawn(bin, ['run', '--server', '--addr', `127.0.0.1:${port}`, '--log-level', 'error', '--bundle', BUNDLE], { stdio: ['ignore', 'ignore', 'inherit'] });
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${opaBase}/health?bundles`)).status === 200) break;
    } catch {
      // not up yet
    }
    if (i > 200) throw new Error('opa did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
  sc = await startSidecar(['--insecure-dev', '--addr', '[::1]:0', '--authzen-addr', '[::1]:0'], {
    CORESDK_POLICY_DIR: BUNDLE,
    CORESDK_SIDECAR_AUTHZEN_SEARCH_RESOURCE_QUERY: 'data.authzen.search_resources',
    CORESDK_SIDECAR_AUTHZEN_SEARCH_SUBJECT_QUERY: 'data.authzen.search_subjects',
  });
  const l = await sc.waitFor((x) => x.event === 'authzen_listening');
  az = azClient(baseUrl(l.addr as string, false));
}, 600_000);

afterAll(async () => {
  await az.close();
  sc.kill();
  await sc.exited;
  opa.kill();
});

const subjects = [
  { type: 'user', id: 'alice' },
  { type: 'user', id: 'bob' },
  { type: 'user', id: 'carol' },
  { type: 'user', id: 'dave' },
  { type: 'user', id: 'zed' },
  { type: 'user', id: 'root', properties: { roles: ['admin'] } },
  { type: 'service', id: 'alice' },
];
const actions = ['can_read', 'can_write', 'can_share', 'can_delete', 'can_fly'].map((name) => ({ name }));
const resources = ['plan', 'handbook', 'roadmap', 'nope'].map((id) => ({ type: 'document', id })).concat([{ type: 'folder', id: 'plan' }]);

describe('AuthZEN decisions agree with OPA on the same policy', () => {
  it('evaluation, one by one and as one evaluations batch', async () => {
    const cases = subjects.flatMap((subject) => actions.flatMap((action) => resources.map((resource) => ({ subject, action, resource }))));
    const ours: boolean[] = [];
    const theirs: boolean[] = [];
    for (const c of cases) {
      const r = await az.post('/access/v1/evaluation', c);
      expect(r.status).toBe(200);
      ours.push(r.json().decision as boolean);
      theirs.push((await opaData('authzen/allow', c)) === true);
    }
    expect(ours).toEqual(theirs);
    expect(ours.filter(Boolean).length).toBeGreaterThan(10);
    expect(ours.filter((d) => !d).length).toBeGreaterThan(10);
    const batch = await az.post('/access/v1/evaluations', { evaluations: cases.slice(0, 100) });
    expect((batch.json().evaluations as Array<{ decision: boolean }>).map((e) => e.decision)).toEqual(theirs.slice(0, 100));
  });

  it('search results are the sets OPA computes', async () => {
    for (const subject of subjects.slice(0, 6)) {
      for (const action of actions) {
        const q = { subject, action, resource: { type: 'document' } };
        const ours = (await az.post('/access/v1/search/resource', q)).json().results as unknown[];
        const theirs = ((await opaData('authzen/search_resources', q)) ?? []) as unknown[];
        expect(ours).toEqual(sortEntities(theirs));
      }
    }
    for (const resource of resources.slice(0, 3)) {
      const q = { subject: { type: 'user' }, action: { name: 'can_read' }, resource };
      const ours = (await az.post('/access/v1/search/subject', q)).json().results as unknown[];
      expect(ours).toEqual(sortEntities(((await opaData('authzen/search_subjects', q)) ?? []) as unknown[]));
    }
  });
});

function sortEntities(v: unknown[]): unknown[] {
  const norm = v.map((e) => {
    const o = e as Record<string, unknown>;
    return { id: o.id, type: o.type };
  });
  return norm.sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1)).map((e) => ({ type: e.type, id: e.id }));
}
