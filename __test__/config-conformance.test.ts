/**
 * The configuration conformance cases (clients/conformance/config.json), in Node: `loadSdkSettings`
 * resolves each file and variable set to the same client settings as the Python, Go and Java
 * clients, or refuses it with `ERR_CONFIG` naming the key and its source.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { loadSdkSettings } from '../src/client/client.js';
import { CoreSDKError } from '../src/errors.js';

interface Case {
  name: string;
  file?: string;
  env?: Record<string, string>;
  expect?: Record<string, unknown>;
  error?: { code: string; names: string[] };
  languages?: string[];
}
interface CaseFile {
  defaults: Record<string, unknown>;
  cases: Case[];
}

const spec = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'clients', 'conformance', 'config.json'), 'utf8')) as CaseFile;
const root = mkdtempSync(join(tmpdir(), 'coresdk-config-cases-'));
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

const fill = (v: unknown, dir: string): unknown => (typeof v === 'string' ? v.replaceAll('{dir}', dir) : v);

describe('configuration conformance (clients/conformance/config.json)', () => {
  spec.cases.forEach((c, i) => {
    it.skipIf(c.languages !== undefined && !c.languages.includes('node'))(c.name, () => {
      const dir = mkdtempSync(join(root, `case-${String(i)}-`));
      const env: Record<string, string> = {};
      if (c.file !== undefined) {
        writeFileSync(join(dir, 'coresdk.toml'), c.file);
        env.CORESDK_CONFIG = join(dir, 'coresdk.toml');
      }
      for (const [k, v] of Object.entries(c.env ?? {})) env[k] = fill(v, dir) as string;
      if (c.error !== undefined) {
        let thrown: unknown;
        try {
          loadSdkSettings(env);
        } catch (e) {
          thrown = e;
        }
        expect(thrown).toBeInstanceOf(CoreSDKError);
        const err = thrown as CoreSDKError;
        expect(err.code).toBe(c.error.code);
        for (const name of c.error.names) expect(err.message).toContain(name);
        return;
      }
      const s = loadSdkSettings(env);
      const got = {
        sidecar_addr: s.sidecarAddr,
        tenant_id: s.tenantId,
        fail_mode: s.failMode,
        mode: s.mode,
        timeout_ms: s.timeoutMs,
        tls_ca_file: s.tls.caFile,
        tls_cert_file: s.tls.certFile,
        tls_key_file: s.tls.keyFile,
        tls_server_name: s.tls.serverName,
      };
      const want = Object.fromEntries(Object.entries({ ...spec.defaults, ...c.expect }).map(([k, v]) => [k, fill(v, dir)]));
      expect(got).toEqual(want);
    });
  });
});
