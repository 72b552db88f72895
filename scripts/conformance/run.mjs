#!/usr/bin/env node
// Runs OPA's v1 YAML conformance cases through CoreSDK's TypeScript Engine.
//
//   node scripts/conformance/run.mjs            summary on stdout
//   node scripts/conformance/run.mjs --write    also writes docs/conformance.md and
//                                               __test__/conformance/expected-pass.json
//   options: --filter <substring of id>  --failures (list every failure)
//            --json <file> (all results)  --engine <module path> (default dist/index.js)
//
// One Engine per case, built from the case's modules (test-<i>.rego, as OPA's
// runner names them) and data. Each case ends up as:
//   pass  the result set matches (see compare.mjs), or an expected error was raised
//   fail  anything else
//   skip  the case needs something regorus/CoreSDK does not provide by design
//         or by omission: a builtin regorus lacks, `with` replacing a function,
//         string interpolation, env vars, or OPA's non-strict builtin-error mode
//         (CoreSDK always evaluates with strict builtin errors).
// A case is only skipped for a reason that explains it: a missing builtin is
// the reason only when the case did not pass and the case's source calls it.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { locateCases, loadCases } from './cases.mjs';
import { compareResultSets, show } from './compare.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(here, '..', '..');
export const EXPECTED_PASS_FILE = path.join(ROOT, '__test__', 'conformance', 'expected-pass.json');
export const DOC_FILE = path.join(ROOT, 'docs', 'conformance.md');

// ---------------------------------------------------------------------------
// Static knowledge

let builtinsInfo = null;
export function loadBuiltinsInfo() {
  if (builtinsInfo) return builtinsInfo;
  const file = path.join(here, 'builtins.json');
  const info = fs.existsSync(file)
    ? JSON.parse(fs.readFileSync(file, 'utf8'))
    : { opaBuiltins: [], regorusBuiltins: [], missingInRegorus: [], regorusVersion: 'unknown' };
  const missing = info.missing ?? info.missingInRegorus ?? [];
  // Longest first, so `io.jwt.decode_verify` wins over `io.jwt.decode`.
  const sorted = [...missing].sort((a, b) => b.length - a.length);
  const esc = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  info.missingRe = sorted.length ? new RegExp(`(?<![\\w.])(${sorted.map(esc).join('|')})\\s*\\(`, 'g') : null;
  info.opaSet = new Set(info.opaBuiltins);
  info.regorusSet = new Set([...info.regorusBuiltins, ...(info.engineBuiltins ?? [])]);
  builtinsInfo = info;
  return info;
}

/** Strips comments and string literals so that scans see code only. */
function codeOnly(src) {
  return src
    .replace(/`[^`]*`/g, '""')
    .replace(/"(?:[^"\\\n]|\\.)*"/g, '""')
    .replace(/#[^\n]*/g, '');
}

/** Static facts about a case's Rego source that can explain a non-pass. */
export function scanCase(c) {
  const info = loadBuiltinsInfo();
  const raw = [...c.modules, c.query].join('\n');
  const code = codeOnly(raw);
  const missingBuiltins = new Set();
  if (info.missingRe) for (const m of code.matchAll(info.missingRe)) missingBuiltins.add(m[1]);
  const withFunctions = new Set();
  for (const m of code.matchAll(/\bwith\s+([A-Za-z_][\w.]*)\s+as\b/g)) {
    const head = m[1].split('.')[0];
    if (head !== 'input' && head !== 'data') withFunctions.add(m[1]);
  }
  const features = [];
  if (/\$"|\$`/.test(raw)) features.push('string interpolation ($"...")');
  if (withFunctions.size) features.push('`with` replacing a function or builtin');
  if (/^\s*import\s+(future\.keywords\.(and|or)|rego\.v2)\b/m.test(code)) features.push('`and`/`or` operators (future.keywords.and/or, rego.v2)');
  if (/^\s*import\s+future\.keywords\.not\b/m.test(code) || /(?<![\w.])not\s*\{/.test(code)) features.push('`not` with a body (future.keywords.not)');
  const noImports = code.replace(/^\s*import\s+(future\.keywords|rego\.v\d)[^\n]*$/gm, '');
  const KW = '(?:as|contains|default|else|every|false|if|import|in|not|null|package|some|true|with)';
  if (new RegExp(`[\\w\\]]\\.${KW}\\b|^\\s*${KW}\\.[A-Za-z_]`, 'm').test(noImports)) features.push('keywords as ref or rule-name segments (e.g. `foo.false := 1`)');
  return { missingBuiltins: [...missingBuiltins].sort(), withFunctions: [...withFunctions].sort(), features };
}

// ---------------------------------------------------------------------------
// Error helpers

const OPA_CODE_HINTS = {
  eval_conflict_error: /conflict|multiple (outputs|values|results|definitions)|must not produce|produced multiple|more than one/i,
  eval_type_error: /type|expected|operand|must be|not a (number|string|set|array|object)|invalid argument/i,
  eval_builtin_error: /./,
  eval_internal_error: /./,
  rego_type_error: /type|arity|argument|expected/i,
  rego_recursion_error: /recurs/i,
  rego_unsafe_var_error: /unsafe/i,
  rego_compile_error: /./,
  rego_parse_error: /parse|unexpected|expect/i,
};

function errorInfo(err) {
  const message = String(err?.message ?? err);
  return { code: err?.code ?? err?.name ?? 'Error', message };
}

/** The builtin an error says does not exist, if any ("could not find function X"). */
function unknownFunctionFrom(message) {
  const m =
    /could not find function\s+`?([\w.]+)`?/i.exec(message) ??
    /unknown (?:function|builtin)\s*[:`'"]?\s*([\w.]+)/i.exec(message) ??
    /(?:function|builtin)\s+`?([\w.]+)`?\s+(?:is )?(?:not (?:found|supported|implemented|defined)|undefined|unknown)/i.exec(message);
  return m ? m[1] : null;
}

/** Reduces an error message to a grouping key: the core sentence, literals masked. */
export function errorKey(message) {
  const lines = String(message).split('\n').map((l) => l.trim()).filter(Boolean);
  let line = lines.find((l) => /\berror:/.test(l)) ?? lines[0] ?? '';
  line = line
    .replace(/^.*?\berror:\s*/, '')
    .replace(/^policy (?:compile error|evaluation failed)(?:\s+at)?\s*:?\s*/, '')
    .replace(/^test-\d+\.rego:\d+:\d+:?\s*/, '');
  if (!line) return '(empty message)';
  return line
    .replace(/test-\d+\.rego:\d+:\d+:?/g, '')
    .replace(/`[^`]*`/g, '`…`')
    .replace(/"(?:[^"\\]|\\.)*"/g, '"…"')
    .replace(/'[^']*'/g, "'…'")
    .replace(/\b\d+(\.\d+)?\b/g, 'N')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 140);
}

// ---------------------------------------------------------------------------
// Running one case

const PLAIN_REF = /^data(?:\.[A-Za-z_]\w*|\[\s*"[^"]*"\s*\])*$/;

/** Appends ` with input as <term>` to every top-level expression of a query. */
export function withInputQuery(query, term) {
  const exprs = [];
  let depth = 0;
  let cur = '';
  let quote = null;
  for (let i = 0; i < query.length; i++) {
    const ch = query[i];
    if (quote) {
      cur += ch;
      if (ch === '\\' && quote === '"') cur += query[++i] ?? '';
      else if (ch === quote) quote = null;
      continue;
    }
    if (ch === '"' || ch === '`') quote = ch;
    if ('([{'.includes(ch)) depth++;
    if (')]}'.includes(ch)) depth--;
    if (depth === 0 && (ch === ';' || ch === '\n')) {
      if (cur.trim()) exprs.push(cur.trim());
      cur = '';
      continue;
    }
    cur += ch;
  }
  if (cur.trim()) exprs.push(cur.trim());
  return exprs.map((e) => `${e} with input as ${term}`).join('; ');
}

/** Data and input cross as JSON: exact big integers become (lossy) numbers. */
function toEngineValue(v) {
  if (typeof v === 'bigint') return Number(v);
  if (Array.isArray(v)) return v.map(toEngineValue);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toEngineValue(x)]));
  return v;
}

function toBindings(c, r) {
  const q = c.query.trim();
  if (PLAIN_REF.test(q)) {
    // OPA: a bare ref query yields one empty binding when defined and not false.
    return { bindings: r.defined && r.value !== false ? [{}] : [] };
  }
  if (!r.defined) {
    if (r.value === undefined || r.value === null || (Array.isArray(r.value) && r.value.length === 0)) return { bindings: [] };
    return { shapeError: `defined=false but value=${show(r.value, 200)}` };
  }
  if (!Array.isArray(r.value) || !r.value.every((b) => b && typeof b === 'object' && !Array.isArray(b))) {
    return { shapeError: `general query value is not an array of bindings objects: ${show(r.value, 200)}` };
  }
  return { bindings: r.value };
}

/**
 * Runs one normalized case. `api` is the module exporting Engine (and CoreSDKError).
 * Returns { id, folder, status, reason?, category?, detail?, unordered?, errorMatch?, ms }.
 */
export function runCase(c, api, { evalTimeoutMs } = {}) {
  const started = performance.now();
  const res = { id: c.id, folder: c.folder, status: 'fail' };
  const scan = scanCase(c);
  const finish = (fields) => Object.assign(res, fields, { ms: Math.round((performance.now() - started) * 10) / 10 });

  // Reasons that would make a non-pass expected.
  const skipReason = (errMessage) => {
    const fn = errMessage ? unknownFunctionFrom(errMessage) : null;
    const info = loadBuiltinsInfo();
    if (fn && (info.opaSet.has(fn) || info.opaSet.size === 0) && !info.regorusSet.has(fn)) {
      return { reason: `builtin not implemented: ${fn}`, builtin: fn };
    }
    if (scan.missingBuiltins.length) return { reason: `builtin not implemented: ${scan.missingBuiltins[0]}`, builtin: scan.missingBuiltins[0] };
    if (scan.features.length) return { reason: `unsupported feature: ${scan.features[0]}` };
    return null;
  };

  if (c.skip) return finish({ status: 'skip', reason: `marked skip in YAML: ${c.skip}` });
  if (c.env && Object.keys(c.env).length) return finish({ status: 'skip', reason: 'needs environment variables (env)' });

  const policies = {};
  c.modules.forEach((m, i) => {
    policies[`test-${i}.rego`] = m;
  });
  let query = c.query;
  let input = c.hasInput ? toEngineValue(c.input) : undefined;
  if (c.inputHasSet) {
    // JSON input cannot carry a set: pass the Rego term through the query instead.
    query = withInputQuery(c.query, c.inputTerm);
    input = undefined;
    res.note = 'input_term with a set passed as `with input as`';
  }

  const onError = (err, phase) => {
    const e = errorInfo(err);
    // OPA's runner compiles every case's modules without error (MustCompile),
    // so a construction-time error is never the error a case expects.
    // An expected error only counts when nothing else explains the error: a
    // case that calls a builtin regorus lacks errors whatever it tests.
    const sr0 = c.expectError ? skipReason(e.message) : null;
    if (sr0) return finish({ status: 'skip', ...sr0, detail: e.message.slice(0, 300) });
    if (c.expectError && phase === 'eval') {
      const wantText = c.wantError;
      const wantCode = c.wantErrorCode;
      const messageMatched = wantText === undefined ? null : e.message.includes(wantText);
      const hint = wantCode ? OPA_CODE_HINTS[wantCode] : null;
      const codeMatched = wantCode === undefined ? null : e.message.includes(wantCode) || Boolean(hint && hint.test(e.message));
      return finish({ status: 'pass', errorMatch: { phase, code: e.code, messageMatched, codeMatched }, detail: e.message.slice(0, 300) });
    }
    const sr = skipReason(e.message);
    if (sr) return finish({ status: 'skip', ...sr, detail: e.message.slice(0, 300) });
    if (
      phase === 'eval' &&
      !c.strictError &&
      /ERR_EVAL$/.test(e.code) &&
      Array.isArray(c.wantResult) &&
      c.wantResult.length === 0
    ) {
      // OPA runs this case with non-strict builtin errors, where a failing builtin
      // makes its expression undefined. CoreSDK always evaluates strictly.
      return finish({ status: 'skip', reason: 'OPA non-strict builtin errors (CoreSDK is always strict)', detail: e.message.slice(0, 300) });
    }
    const key = errorKey(e.message);
    return finish({
      status: 'fail',
      category: `${phase === 'compile' ? 'compile error' : 'eval error'} (${e.code}): ${key}${key === '(empty message)' ? ` (${c.folder})` : ''}`,
      detail: e.message.slice(0, 600),
    });
  };

  let engine;
  try {
    // One evaluator is enough for one query; a generous time limit keeps slow
    // but correct cases from failing on the default 100 ms.
    const opts = { policies, data: toEngineValue(c.data), watch: false, poolSize: 1, evalTimeoutMs: evalTimeoutMs ?? 5000 };
    engine = new api.Engine(opts);
  } catch (err) {
    return onError(err, 'compile');
  }
  try {
    let r;
    try {
      r = engine.evaluatePolicySync(query, input);
    } catch (err) {
      return onError(err, 'eval');
    }
    if (c.expectError) {
      const sr = skipReason(null);
      if (sr) return finish({ status: 'skip', ...sr });
      return finish({
        status: 'fail',
        category: `expected error, got ${r?.defined ? 'a result' : 'undefined'} (${c.wantErrorCode ?? 'error'})`,
        detail: `want error ${show(c.wantError ?? c.wantErrorCode)}; got ${show(r?.value)}`,
      });
    }
    const { bindings, shapeError } = toBindings(c, r ?? {});
    if (shapeError) return finish({ status: 'fail', category: 'engine: unexpected result shape', detail: shapeError });
    if (!Array.isArray(c.wantResult)) {
      return finish({ status: 'fail', category: 'case has no want_result/want_error', detail: '' });
    }
    const cmp = compareResultSets(c.wantResult, bindings, { sortBindings: c.sortBindings, ignoreGeneratedVars: c.ignoreGeneratedVars });
    if (cmp.equal) return finish({ status: 'pass', unordered: cmp.unordered || undefined });
    const sr = skipReason(null);
    if (sr) return finish({ status: 'skip', ...sr, detail: `want ${show(c.wantResult)} got ${show(bindings)}` });
    let category = `wrong result (${c.folder})`;
    if (c.wantResult.length === 0) category = 'wrong result: expected undefined, got a result';
    else if (bindings.length === 0) category = 'wrong result: expected a result, got undefined';
    return finish({ status: 'fail', category, detail: `want ${show(c.wantResult)}\n     got  ${show(bindings)}` });
  } finally {
    try {
      engine.close?.();
    } catch {
      /* ignore */
    }
  }
}

// ---------------------------------------------------------------------------
// Running everything and summarizing

export function runAll(cases, api, { filter, onProgress, evalTimeoutMs } = {}) {
  const results = [];
  for (const c of cases) {
    if (filter && !c.id.includes(filter)) continue;
    let r;
    try {
      r = runCase(c, api, { evalTimeoutMs });
    } catch (err) {
      r = { id: c.id, folder: c.folder, status: 'fail', category: 'runner crash', detail: String(err?.stack ?? err) };
    }
    results.push(r);
    onProgress?.(r, results.length);
  }
  return results;
}

export function summarize(results) {
  const s = {
    total: results.length,
    passed: 0,
    failed: 0,
    skipped: 0,
    passedUnordered: 0,
    errorCases: { passed: 0, messageMatched: 0, messageChecked: 0, codeMatched: 0, codeChecked: 0 },
    skipReasons: new Map(),
    skippedBuiltins: new Map(),
    failCategories: new Map(),
    folders: new Map(),
    lineWidthErrors: 0,
  };
  for (const r of results) {
    if (/line exceeds maximum column width/.test(r.detail ?? '')) s.lineWidthErrors++;
    const f = s.folders.get(r.folder) ?? { total: 0, passed: 0, failed: 0, skipped: 0 };
    f.total++;
    s.folders.set(r.folder, f);
    if (r.status === 'pass') {
      s.passed++;
      f.passed++;
      if (r.unordered) s.passedUnordered++;
      if (r.errorMatch) {
        s.errorCases.passed++;
        if (r.errorMatch.messageMatched !== null) {
          s.errorCases.messageChecked++;
          if (r.errorMatch.messageMatched) s.errorCases.messageMatched++;
        }
        if (r.errorMatch.codeMatched !== null) {
          s.errorCases.codeChecked++;
          if (r.errorMatch.codeMatched) s.errorCases.codeMatched++;
        }
      }
    } else if (r.status === 'skip') {
      s.skipped++;
      f.skipped++;
      const key = r.builtin ? 'builtin not implemented (neither regorus nor the engine)' : r.reason;
      s.skipReasons.set(key, (s.skipReasons.get(key) ?? 0) + 1);
      if (r.builtin) s.skippedBuiltins.set(r.builtin, (s.skippedBuiltins.get(r.builtin) ?? 0) + 1);
    } else {
      s.failed++;
      f.failed++;
      const cat = s.failCategories.get(r.category) ?? { count: 0, example: r };
      cat.count++;
      s.failCategories.set(r.category, cat);
    }
  }
  const ran = s.passed + s.failed;
  s.passRate = ran ? s.passed / ran : 0;
  s.passRateAll = s.total ? s.passed / s.total : 0;
  return s;
}

const pct = (x) => `${(x * 100).toFixed(1)}%`;
const byCountDesc = (m) => [...m.entries()].sort((a, b) => (b[1].count ?? b[1]) - (a[1].count ?? a[1]) || String(a[0]).localeCompare(String(b[0])));

export function formatSummary(s, meta, { failures = false, results = [] } = {}) {
  const out = [];
  out.push(`OPA ${meta.opaVersion} v1 conformance cases through CoreSDK Engine (regorus ${meta.regorusVersion})`);
  out.push(`total ${s.total}: passed ${s.passed}, failed ${s.failed}, skipped ${s.skipped}; pass rate ${pct(s.passRate)} of run cases, ${pct(s.passRateAll)} of all`);
  if (s.passedUnordered) out.push(`  ${s.passedUnordered} passes needed order-insensitive comparison of set-like arrays`);
  const ec = s.errorCases;
  out.push(`  expected-error cases passed: ${ec.passed} (message matched ${ec.messageMatched}/${ec.messageChecked}, code plausibly matched ${ec.codeMatched}/${ec.codeChecked})`);
  out.push('skip reasons:');
  for (const [k, v] of byCountDesc(s.skipReasons)) out.push(`  ${String(v).padStart(5)}  ${k}`);
  out.push('failure categories:');
  for (const [k, v] of byCountDesc(s.failCategories).slice(0, failures ? Infinity : 25)) {
    out.push(`  ${String(v.count).padStart(5)}  ${k}`);
    out.push(`         e.g. ${v.example.id}`);
  }
  if (failures) {
    out.push('failures:');
    for (const r of results.filter((x) => x.status === 'fail')) {
      out.push(`- ${r.id}\n    [${r.category}]\n    ${String(r.detail ?? '').split('\n').join('\n    ')}`);
    }
  }
  out.push(`conformance: ${s.passed} pass, ${s.failed} fail, ${s.skipped} skipped`);
  return out.join('\n');
}

function mdEscape(s) {
  return String(s).replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

export function renderMarkdown(s, meta) {
  const L = [];
  L.push('# OPA conformance');
  L.push('');
  L.push(
    `CoreSDK's TypeScript \`Engine\` run against the YAML conformance cases that ship with OPA ${meta.opaVersion} ` +
      '(`v1/test/cases/testdata/v1/**`, Rego v1 syntax), one `Engine` per case built from the case\'s modules and data. ' +
      `The engine evaluates with regorus ${meta.regorusVersion}. Generated by \`node scripts/conformance/run.mjs --write\`; do not edit by hand.`,
  );
  L.push('');
  L.push('| | cases |');
  L.push('| --- | ---: |');
  L.push(`| total | ${s.total} |`);
  L.push(`| passed | ${s.passed} |`);
  L.push(`| failed | ${s.failed} |`);
  L.push(`| skipped | ${s.skipped} |`);
  L.push(`| pass rate (passed / (passed + failed)) | ${pct(s.passRate)} |`);
  L.push(`| pass rate (passed / total) | ${pct(s.passRateAll)} |`);
  L.push('');
  L.push('## How cases are judged');
  L.push('');
  L.push('The rules follow OPA\'s own runner (`v1/topdown/exported_test.go`):');
  L.push('');
  L.push('- Results are compared as a set of bindings objects: result order never matters, numbers compare numerically, objects by key. With `sort_bindings` each binding value is sorted first.');
  L.push(
    `- A Rego set reaches JSON as an array. An expected array that is strictly sorted in OPA's order may have been a set, so it also matches a permutation (regorus orders mixed-type set members differently). ${s.passedUnordered} passes needed this.`,
  );
  L.push(
    `- A case expecting an error (\`want_error\`, \`want_error_code\`) passes when evaluation throws. A construction-time error never counts (OPA's runner requires every case to compile), nor does one a missing builtin or feature explains. Of ${s.errorCases.passed} such passes, ${s.errorCases.messageMatched} of ${s.errorCases.messageChecked} also contain OPA's exact message text; error texts are regorus's own, so this is informational.`,
  );
  L.push('- `input_term` values holding a Rego set cannot travel as JSON input; those cases pass the term with `with input as` appended to the query.');
  L.push('- A case is **skipped** only when it did not pass and one of these explains it: it calls a builtin that neither regorus nor the engine\'s own builtins (`native/engine/src/builtins/`) implement (from the error, or a scan of its source against `scripts/conformance/builtins.json`), it uses a language feature regorus lacks (see the table), or it expects OPA\'s non-strict builtin-error mode (the error becomes undefined) while CoreSDK always evaluates with strict builtin errors.');
  L.push('');
  L.push('## Skip reasons');
  L.push('');
  L.push('| reason | cases |');
  L.push('| --- | ---: |');
  for (const [k, v] of byCountDesc(s.skipReasons)) L.push(`| ${mdEscape(k)} | ${v} |`);
  L.push('');
  L.push('### Builtins not implemented (cases skipped for each)');
  L.push('');
  L.push('| builtin | cases |');
  L.push('| --- | ---: |');
  const behind = new Set(meta.behindDisabledFeature ?? []);
  for (const [k, v] of byCountDesc(s.skippedBuiltins)) L.push(`| \`${k}\`${behind.has(k) ? ' (in regorus behind a cargo feature `native/engine` does not enable)' : ''} | ${v} |`);
  L.push('');
  if (s.lineWidthErrors) {
    L.push(
      `${s.lineWidthErrors} cases also hit regorus's lexer limit of 1024 columns per source line (\`line exceeds maximum column width of 1024\`), e.g. policies embedding a PEM certificate or a JWT on one line; they are counted under the builtin they call.`,
    );
    L.push('');
  }
  L.push('## Failure categories');
  L.push('');
  L.push('| category | cases | example |');
  L.push('| --- | ---: | --- |');
  for (const [k, v] of byCountDesc(s.failCategories)) L.push(`| ${mdEscape(k)} | ${v.count} | \`${mdEscape(v.example.id)}\` |`);
  L.push('');
  const fails = (meta.results ?? []).filter((r) => r.status === 'fail');
  if (fails.length && fails.length <= 200) {
    L.push('### Every failure');
    L.push('');
    for (const r of fails) {
      L.push(`- \`${r.id}\`: ${r.category}`);
      const d = String(r.detail ?? '').split('\n').map((x) => x.trim()).filter(Boolean).join(' / ');
      if (d) L.push(`  <br>${mdEscape(d.length > 300 ? d.slice(0, 300) + '…' : d).replace(/[<>]/g, (ch) => (ch === '<' ? '&lt;' : '&gt;'))}`);
    }
    L.push('');
  }
  L.push('## By folder');
  L.push('');
  L.push('| folder | total | passed | failed | skipped |');
  L.push('| --- | ---: | ---: | ---: | ---: |');
  for (const [k, f] of [...s.folders.entries()].sort((a, b) => a[0].localeCompare(b[0]))) {
    L.push(`| ${k} | ${f.total} | ${f.passed} | ${f.failed} | ${f.skipped} |`);
  }
  L.push('');
  // The load-time compile checks, written by hand: the cases cannot show them (OPA compiles every case).
  L.push(fs.readFileSync(path.join(ROOT, 'scripts', 'conformance', 'compile-checks.md'), 'utf8').trimEnd());
  L.push('');
  // Where regorus answers differently from OPA and what the engine does (rewrites, own builtins, refusals).
  L.push(fs.readFileSync(path.join(ROOT, 'scripts', 'conformance', 'divergences.md'), 'utf8').trimEnd());
  L.push('');
  L.push('## Reproduce');
  L.push('');
  L.push('<!-- sample: skip (rewrites this file and the expected-pass list; npm test runs the cases) -->');
  L.push('```sh');
  L.push('npm run build            # or however dist/ and the native addon are built');
  L.push('node scripts/conformance/run.mjs --write      # rewrites this file and __test__/conformance/expected-pass.json');
  L.push('node scripts/conformance/run.mjs --failures   # every failure with expected vs actual');
  L.push('```');
  L.push('');
  L.push(
    'The cases come from the OPA Go module (`go mod download -json github.com/open-policy-agent/opa@' +
      meta.opaVersion +
      '`); set `OPA_CASES_DIR` to use a local copy instead. `__test__/conformance.test.ts` runs the same cases under vitest and fails when a case listed in `__test__/conformance/expected-pass.json` stops passing (a ratchet: rerun with `--write` after an improvement).',
  );
  L.push('');
  return L.join('\n');
}

export async function loadEngineApi(spec) {
  const target = spec ? path.resolve(spec) : path.join(ROOT, 'dist', 'index.js');
  const mod = await import(pathToFileURL(target).href);
  if (typeof mod.Engine !== 'function') throw new Error(`${target} does not export Engine`);
  return mod;
}

async function main(argv) {
  const args = { write: false, failures: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--write') args.write = true;
    else if (a === '--failures') args.failures = true;
    else if (a === '--filter') args.filter = argv[++i];
    else if (a === '--json') args.json = argv[++i];
    else if (a === '--engine') args.engine = argv[++i];
    else if (a === '-h' || a === '--help') {
      console.log('usage: node scripts/conformance/run.mjs [--write] [--failures] [--filter STR] [--json FILE] [--engine dist/index.js]');
      return 0;
    } else {
      console.error(`unknown argument ${a}`);
      return 2;
    }
  }
  const loc = locateCases();
  const cases = loadCases(loc.casesDir);
  const api = await loadEngineApi(args.engine);
  const t0 = performance.now();
  const results = runAll(cases, api, { filter: args.filter });
  const secs = (performance.now() - t0) / 1000;
  const s = summarize(results);
  const info = loadBuiltinsInfo();
  const meta = { opaVersion: loc.version, regorusVersion: info.regorusVersion, behindDisabledFeature: info.behindDisabledFeature };
  console.log(formatSummary(s, meta, { failures: args.failures, results }));
  console.log(`(${secs.toFixed(1)} s; cases from ${loc.casesDir})`);
  if (args.json) fs.writeFileSync(args.json, JSON.stringify(results, null, 1) + '\n');
  if (args.write) {
    if (args.filter) {
      console.error('--write with --filter would record a partial run; refusing');
      return 2;
    }
    fs.mkdirSync(path.dirname(DOC_FILE), { recursive: true });
    fs.writeFileSync(DOC_FILE, renderMarkdown(s, { ...meta, results }));
    fs.mkdirSync(path.dirname(EXPECTED_PASS_FILE), { recursive: true });
    const ids = results.filter((r) => r.status === 'pass').map((r) => r.id).sort();
    fs.writeFileSync(EXPECTED_PASS_FILE, JSON.stringify(ids, null, 1) + '\n');
    console.log(`wrote ${path.relative(ROOT, DOC_FILE)} and ${path.relative(ROOT, EXPECTED_PASS_FILE)}`);
  }
  return 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      console.error(err?.stack ?? err);
      process.exit(1);
    },
  );
}
