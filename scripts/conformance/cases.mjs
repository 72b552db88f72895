// Locate and load OPA's YAML conformance cases (Rego v1 syntax).
//
// The cases ship inside the OPA Go module, so the module cache is the source:
// `go mod download -json github.com/open-policy-agent/opa@<version>` prints the
// module directory, and the cases live under v1/test/cases/testdata/v1/**.
//
// Overrides:
//   OPA_CASES_DIR  a directory holding the YAML files (the testdata/v1 folder),
//                  or an OPA checkout / module directory containing it.
//   OPA_VERSION    the OPA module version to download (default below).
//
// Semantics follow OPA's own runner (v1/topdown/exported_test.go, testRun):
// modules are named test-<i>.rego, `input_term` (a Rego term) overrides `input`,
// `want_error` / `want_error_code` override `want_result`, `sort_bindings`
// sorts each binding value of the actual result before comparing, and
// `ignore_generated_vars` drops `__localq*` bindings.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';

export const DEFAULT_OPA_VERSION = 'v1.22.4';
export const OPA_MODULE = 'github.com/open-policy-agent/opa';
const CASES_SUBDIR = path.join('v1', 'test', 'cases', 'testdata', 'v1');

/** Thrown when the cases cannot be found or downloaded (e.g. `go` is missing). */
export class CasesUnavailableError extends Error {
  constructor(message, options) {
    super(message, options);
    this.name = 'CasesUnavailableError';
  }
}

function isDir(p) {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Returns { casesDir, moduleDir, version, source } or throws CasesUnavailableError.
 */
export function locateCases({ version = process.env.OPA_VERSION || DEFAULT_OPA_VERSION, env = process.env } = {}) {
  if (env.OPA_CASES_DIR) {
    const dir = path.resolve(env.OPA_CASES_DIR);
    if (isDir(path.join(dir, CASES_SUBDIR))) {
      return { casesDir: path.join(dir, CASES_SUBDIR), moduleDir: dir, version: versionFromDir(dir) ?? 'unknown', source: 'OPA_CASES_DIR' };
    }
    if (isDir(dir)) {
      const m = dir.match(/opa@(v[^/\\]+)/);
      return { casesDir: dir, moduleDir: null, version: m ? m[1] : 'unknown', source: 'OPA_CASES_DIR' };
    }
    throw new CasesUnavailableError(`OPA_CASES_DIR=${env.OPA_CASES_DIR} is not a directory`);
  }

  const goEnv = { ...env, GOFLAGS: '-mod=mod', GO111MODULE: 'on' };
  const goBin = findGo(env);
  const run = (args) =>
    execFileSync(goBin, args, {
      cwd: os.tmpdir(), // outside any go.mod, so the download is not tied to a module
      env: goEnv,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 10 * 60 * 1000,
    });

  // Fast path: already in the module cache.
  try {
    const cache = run(['env', 'GOMODCACHE']).trim();
    const dir = path.join(cache, ...OPA_MODULE.split('/')) + '@' + version;
    if (cache && isDir(path.join(dir, CASES_SUBDIR))) {
      return { casesDir: path.join(dir, CASES_SUBDIR), moduleDir: dir, version, source: 'GOMODCACHE' };
    }
  } catch (err) {
    if (err && err.code === 'ENOENT') {
      throw new CasesUnavailableError('`go` is not installed: cannot download the OPA module holding the conformance cases (set OPA_CASES_DIR to use a local copy)', { cause: err });
    }
    // fall through to `go mod download`, which reports its own error
  }

  let out;
  try {
    out = run(['mod', 'download', '-json', `${OPA_MODULE}@${version}`]);
  } catch (err) {
    if (err && err.code === 'ENOENT') {
      throw new CasesUnavailableError('`go` is not installed: cannot download the OPA module holding the conformance cases (set OPA_CASES_DIR to use a local copy)', { cause: err });
    }
    const detail = String(err.stdout || '') + String(err.stderr || '') || err.message;
    throw new CasesUnavailableError(`go mod download ${OPA_MODULE}@${version} failed: ${detail.trim()}`, { cause: err });
  }
  let info;
  try {
    info = JSON.parse(out);
  } catch (err) {
    throw new CasesUnavailableError(`unexpected output from go mod download: ${out.slice(0, 500)}`, { cause: err });
  }
  if (info.Error) throw new CasesUnavailableError(`go mod download: ${info.Error}`);
  const casesDir = path.join(info.Dir, CASES_SUBDIR);
  if (!isDir(casesDir)) throw new CasesUnavailableError(`no v1 test cases in ${info.Dir}`);
  return { casesDir, moduleDir: info.Dir, version: info.Version || version, source: 'go mod download' };
}

/** `go` from PATH, else the usual install locations (a non-login shell may lack /usr/local/go/bin). */
function findGo(env) {
  const exe = process.platform === 'win32' ? 'go.exe' : 'go';
  for (const dir of String(env.PATH ?? '').split(path.delimiter)) {
    if (dir && fs.existsSync(path.join(dir, exe))) return path.join(dir, exe);
  }
  for (const dir of [env.GOROOT && path.join(env.GOROOT, 'bin'), '/usr/local/go/bin', path.join(os.homedir(), 'go', 'bin'), '/usr/lib/go/bin']) {
    if (dir && fs.existsSync(path.join(dir, exe))) return path.join(dir, exe);
  }
  return 'go'; // let execFileSync report ENOENT
}

function versionFromDir(dir) {
  const m = dir.match(/opa@(v[^/\\]+)/);
  return m ? m[1] : null;
}

function listYamlFiles(dir) {
  const out = [];
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.ya?ml$/i.test(e.name)) out.push(p);
    }
  };
  walk(dir);
  return out.sort();
}

/**
 * Loads every case under casesDir, normalized. Ids are "<relative file>#<note>";
 * a note repeated inside one file (OPA's loader allows it) gets "#2", "#3", ...
 * appended in file order, so ids stay unique and stable for a given OPA version.
 */
export function loadCases(casesDir) {
  const cases = [];
  for (const file of listYamlFiles(casesDir)) {
    const rel = path.relative(casesDir, file).split(path.sep).join('/');
    let src = fs.readFileSync(file, 'utf8');
    if (src.charCodeAt(0) === 0xfeff) src = src.slice(1);
    let doc;
    try {
      // YAML 1.2 core schema, as OPA's go-yaml v3 loader. Integers are read
      // exactly (OPA keeps them as json.Number): those beyond 2^53 stay BigInt.
      doc = smallIntsToNumbers(YAML.parse(src, { intAsBigInt: true }));
    } catch (err) {
      throw new Error(`${rel}: ${err.message}`, { cause: err });
    }
    const seen = new Map();
    for (const raw of doc?.cases ?? []) {
      const base = `${rel}#${raw.note}`;
      const n = (seen.get(base) ?? 0) + 1;
      seen.set(base, n);
      cases.push(normalizeCase(raw, { id: n === 1 ? base : `${base}#${n}`, file: rel }));
    }
  }
  return cases;
}

/** BigInts that fit a double exactly become numbers; larger ones stay BigInt. */
export function smallIntsToNumbers(v) {
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) && BigInt(Number(v)) === v ? Number(v) : v;
  if (Array.isArray(v)) return v.map(smallIntsToNumbers);
  if (v && typeof v === 'object') {
    const out = {};
    for (const [k, x] of Object.entries(v)) out[k] = smallIntsToNumbers(x);
    return out;
  }
  return v;
}

/** True when v holds a BigInt anywhere. */
export function hasBigInt(v) {
  if (typeof v === 'bigint') return true;
  if (Array.isArray(v)) return v.some(hasBigInt);
  if (v && typeof v === 'object') return Object.values(v).some(hasBigInt);
  return false;
}

export function normalizeCase(raw, { id, file }) {
  const c = {
    id,
    file,
    folder: file.split('/')[0],
    note: raw.note,
    query: String(raw.query ?? ''),
    modules: (raw.modules ?? []).map(String),
    data: raw.data ?? {},
    hasInput: false,
    input: undefined,
    inputTerm: undefined, // raw Rego term, when the case gives input_term
    inputHasSet: false, // input_term holds a set: not representable as JSON input
    wantResult: Array.isArray(raw.want_result) ? raw.want_result : undefined,
    wantDefined: raw.want_defined,
    wantErrorCode: raw.want_error_code,
    wantError: raw.want_error,
    sortBindings: Boolean(raw.sort_bindings),
    ignoreGeneratedVars: Boolean(raw.ignore_generated_vars),
    strictError: Boolean(raw.strict_error),
    experimentalKeywords: Boolean(raw.experimental_keywords),
    env: raw.env ?? undefined,
    skip: raw.skip ?? undefined,
    raw,
  };
  if (raw.input_term !== undefined && raw.input_term !== null) {
    c.inputTerm = String(raw.input_term);
    const parsed = parseRegoTerm(c.inputTerm);
    c.hasInput = true;
    c.inputHasSet = parsed.hasSet;
    c.input = parsed.hasSet ? undefined : parsed.value;
  } else if (raw.input !== undefined) {
    c.hasInput = true;
    c.input = raw.input;
  }
  c.expectError = c.wantError !== undefined || c.wantErrorCode !== undefined;
  // Engine options and input travel as JSON numbers (doubles): exact big
  // integers in data/input cannot reach the engine unchanged.
  c.bigIntInData = hasBigInt(c.data) || hasBigInt(c.input);
  return c;
}

// ---------------------------------------------------------------------------
// A small parser for Rego scalar/composite terms, enough for `input_term`:
// JSON plus sets ({1, 2}, set()), trailing commas, raw `strings` and comments.

/** A Rego set, as parsed from input_term. */
export class RegoSet {
  constructor(items) {
    this.items = items;
  }
}

export function parseRegoTerm(src) {
  let i = 0;
  let hasSet = false;
  const fail = (msg) => {
    throw new Error(`input_term: ${msg} at ${i} in ${JSON.stringify(src)}`);
  };
  const ws = () => {
    for (;;) {
      while (i < src.length && /\s/.test(src[i])) i++;
      if (src[i] === '#') {
        while (i < src.length && src[i] !== '\n') i++;
      } else return;
    }
  };
  const value = () => {
    ws();
    const ch = src[i];
    if (ch === '{') return braced();
    if (ch === '[') {
      i++;
      const items = [];
      for (;;) {
        ws();
        if (src[i] === ']') {
          i++;
          return items;
        }
        items.push(value());
        ws();
        if (src[i] === ',') i++;
        else if (src[i] !== ']') fail('expected , or ]');
      }
    }
    if (ch === '"') {
      const m = /^"(?:[^"\\]|\\.)*"/.exec(src.slice(i));
      if (!m) fail('bad string');
      i += m[0].length;
      return JSON.parse(m[0]);
    }
    if (ch === '`') {
      const end = src.indexOf('`', i + 1);
      if (end < 0) fail('bad raw string');
      const s = src.slice(i + 1, end);
      i = end + 1;
      return s;
    }
    const m = /^-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/.exec(src.slice(i));
    if (m) {
      i += m[0].length;
      if (/^-?\d+$/.test(m[0])) return smallIntsToNumbers(BigInt(m[0]));
      return Number(m[0]);
    }
    for (const [word, v] of [
      ['true', true],
      ['false', false],
      ['null', null],
    ]) {
      if (src.startsWith(word, i) && !/[\w]/.test(src[i + word.length] ?? '')) {
        i += word.length;
        return v;
      }
    }
    if (/^set\(\s*\)/.test(src.slice(i))) {
      i += /^set\(\s*\)/.exec(src.slice(i))[0].length;
      hasSet = true;
      return new RegoSet([]);
    }
    return fail('unsupported term');
  };
  const braced = () => {
    i++; // {
    ws();
    if (src[i] === '}') {
      i++;
      return {};
    }
    const first = value();
    ws();
    if (src[i] === ':') {
      i++;
      const obj = {};
      let key = first;
      for (;;) {
        const v = value();
        obj[typeof key === 'string' ? key : JSON.stringify(key)] = v;
        ws();
        if (src[i] === ',') {
          i++;
          ws();
        }
        if (src[i] === '}') {
          i++;
          return obj;
        }
        key = value();
        ws();
        if (src[i] !== ':') fail('expected :');
        i++;
      }
    }
    hasSet = true;
    const items = [first];
    for (;;) {
      ws();
      if (src[i] === ',') {
        i++;
        ws();
      }
      if (src[i] === '}') {
        i++;
        return new RegoSet(items);
      }
      items.push(value());
    }
  };
  const v = value();
  ws();
  if (i !== src.length) fail('trailing characters');
  return { value: v, hasSet };
}

// CLI: `node scripts/conformance/cases.mjs` prints where the cases are and a count.
if (import.meta.url === `file://${process.argv[1]}`) {
  const loc = locateCases();
  const cases = loadCases(loc.casesDir);
  const folders = new Set(cases.map((c) => c.folder));
  console.log(`OPA ${loc.version} (${loc.source}): ${loc.casesDir}`);
  console.log(`${cases.length} cases in ${folders.size} folders`);
}
