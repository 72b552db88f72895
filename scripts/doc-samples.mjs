#!/usr/bin/env node
/**
 * Docs are tests: every fenced code sample in README.md and docs/*.md in a
 * runnable language is run, as written, against a real development sidecar
 * (target/debug/coresdk-sidecar --dev on the documented default addresses,
 * [::1]:50051 for gRPC and [::1]:50080 for AuthZEN), one sample at a time.
 * `npm test`'s "docs samples" step; `node scripts/doc-samples.mjs --list`
 * prints what each block is without running anything, and
 * `node scripts/doc-samples.mjs docs/go.md` runs one file's samples (--verbose:
 * every output and HTTP answer).
 *
 * The convention (also in docs/README.md, "Code samples are tests"): an HTML
 * comment on the line before a fence says what the block is.
 *
 *   <!-- sample: partial -->                 a fragment or an excerpt: not run
 *   <!-- sample: skip (reason) -->           a complete command that cannot run here: not run, reason required
 *   <!-- sample: run [attributes] -->        run it (the default for an unmarked block)
 *   <!-- sample: serve /path... [attributes] -->  an HTTP service: start it, then requests (below)
 *
 * Attributes: cwd=DIR (relative to the repository root; the working
 * directory), args=VALUE (a program argument, repeatable; `$TOKEN` is the
 * development token), expect=TEXT (stdout must contain it, repeatable),
 * port=N (a service that listens on a fixed port; otherwise PORT is set to a
 * free one and the Python servers get --port).
 *
 * Runnable languages: ts/typescript/js/javascript (transpiled with
 * TypeScript, run with node, `coresdk` resolving to this checkout as if
 * installed; ts blocks are also type-checked, strict, in one tsc program), python/py (clients/python/.venv), go (a module of its own using
 * clients/go through `go work`, as docs/go.md tells users), java (`java -cp
 * <the SDK's classpath> File.java`, as README.md tells users), sh/bash/shell
 * (bash -e in the repository root, with coresdk-sidecar and the npm bins on
 * PATH), rego (added to a copy of examples/policies: compiled with
 * `coresdk-sidecar check`, or its tests run with `coresdk-sidecar test` for a
 * `_test` package) and rust (no runner here: it must be marked). An unmarked
 * block in one of them is run, so a new sample is either run or marked, never
 * silently skipped; a marker on anything else is allowed. Other languages
 * (toml, json, yaml, xml, proto, text, none) are not run.
 *
 * Every sample gets TOKEN (the sidecar's printed development token) in its
 * environment, as the docs' `$TOKEN`. A shell sample whose comments hold JSON
 * objects (`# {"decision":true}`) must print those objects, in that order
 * (a command without such a comment may print anything).
 * A `serve` sample is started and asked for each path with the token (200;
 * the first path's body must carry the token's claims), for the first path
 * without a token (401 application/problem+json), and, once every sample has
 * run, again with the sidecar stopped: it must answer 200 (fail-open) or a
 * 503, never a 500, and never put internal error text (addresses,
 * transport messages, tracebacks) in the body. Every process has a deadline
 * and is killed with its process group.
 */
/* global AbortSignal */
import { spawn } from 'node:child_process';
import { createConnection, createServer } from 'node:net';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const sidecarBin = join(root, 'target', 'debug', process.platform === 'win32' ? 'coresdk-sidecar.exe' : 'coresdk-sidecar');
const python = join(root, 'clients', 'python', '.venv', process.platform === 'win32' ? 'Scripts/python.exe' : 'bin/python');
const javaClasses = join(root, 'clients', 'java', 'coresdk', 'target', 'classes');

/** Languages with a runner; `null`: runnable, but every block must be marked. */
const RUNNERS = {
  ts: 'node', typescript: 'node', js: 'node', javascript: 'node', mjs: 'node',
  python: 'python', py: 'python',
  go: 'go',
  java: 'java',
  sh: 'sh', bash: 'sh', shell: 'sh',
  rego: 'rego',
  rust: null, rs: null,
};
/** Per-kind deadlines, in seconds: a sample's own run, and its build when it has one. */
const RUN_TIMEOUT_S = 60;
const BUILD_TIMEOUT_S = 240;
/** --verbose: print every HTTP answer and every sample's output. */
const verbose = process.argv.includes('--verbose');
/** What no HTTP answer may contain once the sidecar is gone (lower case). */
const LEAKS = ['50051', 'rpc error', 'connection refused', 'connect failed', 'dial tcp', 'traceback', 'grpc', 'tcp connect error'];

/**
 * One fenced block.
 * @typedef {{ file: string, line: number, lang: string, text: string, kind: string, reason: string,
 *   paths: string[], attrs: { cwd?: string, port?: number, args: string[], expect: string[] } }} Sample
 */

/**
 * Reads every fenced block of a Markdown file with the marker before it.
 * @param {string} file path relative to the repository root
 * @returns {{ samples: Sample[], errors: string[] }}
 */
export function parseMarkdown(file) {
  const lines = readFileSync(join(root, file), 'utf8').split('\n');
  /** @type {Sample[]} */
  const samples = [];
  const errors = [];
  let lastNonBlank = '';
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*([^\s`]*)(.*)$/.exec(lines[i]);
    if (!open) {
      if (lines[i].trim() !== '') lastNonBlank = lines[i].trim();
      continue;
    }
    const [, indent, fence, langRaw] = open;
    const body = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const close = new RegExp(`^\\s*${fence[0] === '`' ? '`' : '~'}{${fence.length},}\\s*$`).exec(lines[j]);
      if (close) break;
      body.push(lines[j].startsWith(indent) ? lines[j].slice(indent.length) : lines[j].trimStart());
    }
    if (j === lines.length) errors.push(`${file}:${i + 1}: the fence is never closed`);
    const where = `${file}:${i + 1}`;
    const sample = { file, line: i + 1, lang: langRaw.toLowerCase(), text: body.join('\n') + '\n', kind: 'run', reason: '', paths: [], attrs: { args: [], expect: [] } };
    const marker = /^<!--\s*sample:(.*?)-->$/.exec(lastNonBlank);
    if (marker) {
      const err = applyMarker(sample, marker[1].trim());
      if (err) errors.push(`${where}: ${err}`);
    } else if (/^<!--\s*sample\b/.test(lastNonBlank)) {
      errors.push(`${where}: a malformed marker before the fence: ${lastNonBlank}`);
    }
    if (!Object.hasOwn(RUNNERS, sample.lang)) {
      if (!marker) sample.kind = 'other';
      else if (sample.kind === 'run' || sample.kind === 'serve') errors.push(`${where}: no runner for \`${sample.lang || '(none)'}\` blocks: mark it partial or skip`);
    } else if (RUNNERS[sample.lang] === null && (sample.kind === 'run' || sample.kind === 'serve')) {
      errors.push(`${where}: ${sample.lang} blocks are not run here: mark it \`<!-- sample: partial -->\` or \`<!-- sample: skip (why) -->\``);
    }
    samples.push(sample);
    lastNonBlank = '';
    i = j;
  }
  return { samples, errors };
}

/**
 * Applies a `<!-- sample: ... -->` marker to a block.
 * @param {Sample} sample
 * @param {string} spec the text after `sample:`
 * @returns {string | undefined} what is wrong with the marker
 */
function applyMarker(sample, spec) {
  const m = /^(run|serve|partial|skip)\b\s*(.*)$/.exec(spec);
  if (!m) return `unknown marker "${spec}" (run, serve, partial or skip)`;
  sample.kind = m[1];
  const rest = m[2].trim();
  if (sample.kind === 'partial' || sample.kind === 'skip') {
    const reason = /^\((.+)\)$/.exec(rest);
    if (rest !== '' && !reason) return `${sample.kind}: the reason goes in parentheses: ${rest}`;
    sample.reason = reason ? reason[1] : '';
    if (sample.kind === 'skip' && sample.reason === '') return 'skip needs a reason: <!-- sample: skip (why) -->';
    return undefined;
  }
  for (const word of rest.split(/\s+/).filter(Boolean)) {
    const kv = /^(cwd|args|expect|port)=(.+)$/.exec(word);
    if (word.startsWith('/') && sample.kind === 'serve') sample.paths.push(word);
    else if (!kv) return `unknown attribute "${word}"`;
    else if (kv[1] === 'cwd') sample.attrs.cwd = kv[2];
    else if (kv[1] === 'port') sample.attrs.port = Number(kv[2]);
    else sample.attrs[kv[1]].push(kv[2]);
  }
  if (sample.kind === 'serve' && sample.paths.length === 0) return 'serve needs at least one path: <!-- sample: serve /me -->';
  return undefined;
}

/** The Markdown files whose samples are tests. */
function docFiles() {
  return ['README.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)];
}

/** Every process group started and not yet reaped, and the temporary tree: cleaned up if this script is interrupted. */
const live = new Set();
const cleanup = { dir: '' };
for (const signal of /** @type {const} */ (['SIGINT', 'SIGTERM'])) {
  process.on(signal, () => {
    for (const child of live) killGroup(/** @type {import('node:child_process').ChildProcess} */ (child), 'SIGKILL');
    if (cleanup.dir) rmSync(cleanup.dir, { recursive: true, force: true });
    process.exit(130);
  });
}

/**
 * Runs a command to completion under a deadline, killing its process group when it passes.
 * @param {string} cmd
 * @param {string[]} args
 * @param {{ cwd?: string, env?: NodeJS.ProcessEnv, timeoutS?: number }} [opts]
 * @returns {Promise<{ code: number | null, stdout: string, stderr: string, timedOut: boolean }>}
 */
function run(cmd, args, opts = {}) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: opts.cwd ?? root, env: opts.env ?? process.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(child);
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => { timedOut = true; killGroup(child, 'SIGKILL'); }, (opts.timeoutS ?? RUN_TIMEOUT_S) * 1000);
    child.on('error', (e) => { stderr += String(e); });
    child.on('close', (code) => {
      clearTimeout(timer);
      killGroup(child, 'SIGKILL'); // anything it left behind in its group
      live.delete(child);
      resolve({ code, stdout, stderr, timedOut });
    });
  });
}

/**
 * Signals a child's whole process group (it was spawned detached), ignoring one that is gone.
 * @param {import('node:child_process').ChildProcess} child
 * @param {NodeJS.Signals} signal
 */
function killGroup(child, signal) {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

/**
 * Starts a long-running process; `stop()` sends SIGTERM to its group, then SIGKILL after 5 s.
 * @param {string} cmd
 * @param {string[]} args
 * @param {{ cwd?: string, env?: NodeJS.ProcessEnv }} opts
 */
function startProcess(cmd, args, opts) {
  const child = spawn(cmd, args, { cwd: opts.cwd ?? root, env: opts.env ?? process.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  const proc = { child, output: '', exited: false, code: /** @type {number | null} */ (null) };
  child.stdout.on('data', (d) => { proc.output += d; });
  child.stderr.on('data', (d) => { proc.output += d; });
  child.on('error', (e) => { proc.output += String(e); });
  const closed = new Promise((resolve) => {
    child.on('close', (code) => { proc.exited = true; proc.code = code; live.delete(child); resolve(undefined); });
  });
  return {
    proc,
    /** Stops the process group: SIGTERM, then SIGKILL if it is still there 5 s later. */
    async stop() {
      if (proc.exited) return;
      killGroup(child, 'SIGTERM');
      const timer = setTimeout(() => { killGroup(child, 'SIGKILL'); }, 5000);
      await closed;
      clearTimeout(timer);
      killGroup(child, 'SIGKILL');
    },
  };
}

/**
 * Whether something accepts TCP connections at host:port.
 * @param {string} host
 * @param {number} port
 * @returns {Promise<boolean>}
 */
function listening(host, port) {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    socket.setTimeout(1000);
    socket.on('connect', () => { socket.destroy(); resolve(true); });
    socket.on('timeout', () => { socket.destroy(); resolve(false); });
    socket.on('error', () => { resolve(false); });
  });
}

/** A port nobody listens on now. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => { resolve(typeof address === 'object' && address ? address.port : 0); });
    });
  });
}

/**
 * Waits until nothing listens on host:port (another run may be finishing), at most `seconds`.
 * @param {string} host
 * @param {number} port
 * @param {number} seconds
 * @returns {Promise<boolean>} whether the port is free
 */
async function waitFree(host, port, seconds) {
  const deadline = Date.now() + seconds * 1000;
  while (await listening(host, port)) {
    if (Date.now() > deadline) return false;
    await sleep(500);
  }
  return true;
}

/** @param {number} ms */
function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * The development sidecar the docs tell users to run (`coresdk-sidecar --dev`), on its default
 * addresses, with its key set in a temporary directory. Resolves once it logged both `listening`
 * and `serving` (in either order) and printed its token.
 * @param {string} work a temporary directory
 */
async function startSidecar(work) {
  if (!existsSync(sidecarBin)) throw new Error(`${sidecarBin} is missing: cargo build -p coresdk-sidecar --bin coresdk-sidecar`);
  for (const port of [50051, 50080]) {
    if (!(await waitFree('::1', port, 20))) {
      throw new Error(`[::1]:${port} is in use by another process: the docs' samples need the default development addresses; stop it and run again`);
    }
  }
  const dir = join(work, 'sidecar');
  mkdirSync(dir);
  // The dev key set where `coresdk-sidecar dev-token` in a sample looks for it (XDG_STATE_HOME below).
  const sidecar = startProcess(sidecarBin, ['--dev', '--dev-dir', join(work, 'state', 'coresdk', 'dev')], { cwd: dir });
  const deadline = Date.now() + 45_000;
  for (;;) {
    const out = sidecar.proc.output;
    const events = out.split('\n').filter((l) => l.startsWith('{')).map((l) => {
      try {
        return /** @type {{ event?: string, addr?: string }} */ (JSON.parse(l));
      } catch {
        return {};
      }
    });
    const token = /Development token[^\n]*\n(\S+)/.exec(out)?.[1];
    const listen = events.find((e) => e.event === 'listening');
    if (listen && events.some((e) => e.event === 'serving') && token) {
      if (listen.addr !== '[::1]:50051') throw new Error(`the dev sidecar listens on ${listen.addr}, not [::1]:50051`);
      return { ...sidecar, token };
    }
    if (sidecar.proc.exited || Date.now() > deadline) {
      await sidecar.stop();
      throw new Error(`the dev sidecar did not start (${sidecar.proc.exited ? `exit ${sidecar.proc.code}` : 'no listening+serving within 45 s'}):\n${out}`);
    }
    await sleep(100);
  }
}

/**
 * The JSON objects in a text, in order (anything between them ignored).
 * @param {string} text
 * @returns {unknown[]}
 */
export function jsonObjects(text) {
  const found = [];
  for (let i = 0; i < text.length; i++) {
    if (text[i] !== '{') continue;
    let depth = 0;
    let inString = false;
    for (let j = i; j < text.length; j++) {
      const c = text[j];
      if (inString) {
        if (c === '\\') j++;
        else if (c === '"') inString = false;
      } else if (c === '"') inString = true;
      else if (c === '{' || c === '[') depth++;
      else if (c === '}' || c === ']') {
        depth--;
        if (depth === 0) {
          try {
            found.push(JSON.parse(text.slice(i, j + 1)));
            i = j;
          } catch {
            // not JSON: look further on
          }
          break;
        }
      }
    }
  }
  return found;
}

/**
 * The output a shell sample documents: the JSON objects in its comments.
 * @param {string} text
 * @returns {unknown[]}
 */
function documentedOutput(text) {
  const comments = text.split('\n').map((l) => /(?:^|\s)#\s?(.*)$/.exec(l)?.[1]).filter((c) => c !== undefined);
  return jsonObjects(comments.join('\n'));
}

/**
 * Deep equality of JSON values, keys in any order.
 * @param {unknown} a
 * @param {unknown} b
 * @returns {boolean}
 */
function jsonEqual(a, b) {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  const ra = /** @type {Record<string, unknown>} */ (a);
  const rb = /** @type {Record<string, unknown>} */ (b);
  return ka.length === kb.length && ka.every((k) => k in rb && jsonEqual(ra[k], rb[k]));
}

/** Shared set-up: a temporary tree where `coresdk` resolves to this checkout, and a bin directory. */
class Workspace {
  /** @param {string} dir */
  constructor(dir) {
    this.dir = dir;
    this.count = 0;
    // node_modules as after `npm install coresdk express ...`: this checkout and its dependencies.
    const modules = join(dir, 'node_modules');
    mkdirSync(modules);
    symlinkSync(root, join(modules, 'coresdk'), 'dir');
    for (const name of readdirSync(join(root, 'node_modules'))) {
      if (name === '.bin' || name.startsWith('.')) continue;
      symlinkSync(join(root, 'node_modules', name), join(modules, name), 'dir');
    }
    // PATH as after the docs' installs: the coresdk-sidecar program and the npm bins.
    this.bin = join(dir, 'bin');
    mkdirSync(this.bin);
    symlinkSync(sidecarBin, join(this.bin, 'coresdk-sidecar'));
    symlinkSync(join(root, 'dist', 'sidecar', 'coresdk-cli.js'), join(this.bin, 'coresdk'));
    /** @type {string | undefined} */
    this.javaClasspath = undefined;
  }

  /** A fresh directory for one sample, under the shared node_modules. */
  sampleDir() {
    const d = join(this.dir, `sample-${++this.count}`);
    mkdirSync(d);
    return d;
  }

  /**
   * The Java SDK's classpath, as README.md says: Maven's dependency:build-classpath plus the built classes.
   * @returns {Promise<string>}
   */
  async classpath() {
    if (this.javaClasspath !== undefined) return this.javaClasspath;
    if (!existsSync(javaClasses)) {
      throw new Error(`${relative(root, javaClasses)} is missing: build the Java SDK first (mvn -q -f clients/java/pom.xml install -DskipTests)`);
    }
    const out = join(this.dir, 'java-classpath.txt');
    const r = await run('mvn', ['-q', '-B', '-ntp', '-f', 'clients/java/coresdk/pom.xml', 'dependency:build-classpath', `-Dmdep.outputFile=${out}`], { timeoutS: 180 });
    if (r.code !== 0 || !existsSync(out)) throw new Error(`mvn dependency:build-classpath failed:\n${r.stdout}${r.stderr}`);
    this.javaClasspath = `${readFileSync(out, 'utf8').trim()}${process.platform === 'win32' ? ';' : ':'}${javaClasses}`;
    return this.javaClasspath;
  }
}

/**
 * How to start one sample: the command (after any build step), its working directory and environment.
 * @param {Sample} sample
 * @param {Workspace} ws
 * @param {NodeJS.ProcessEnv} env
 * @param {number} port the port a service listens on
 * @returns {Promise<{ cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv }>}
 */
async function prepare(sample, ws, env, port) {
  const dir = ws.sampleDir();
  const cwd = sample.attrs.cwd ? join(root, sample.attrs.cwd) : dir;
  const args = sample.attrs.args.map((a) => a.replaceAll('$TOKEN', env.TOKEN ?? ''));
  switch (RUNNERS[sample.lang]) {
    case 'node': {
      // TypeScript's types erased, nothing else changed; an .mjs so that top-level await works.
      const js = ts.transpileModule(sample.text, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
      const file = join(dir, 'sample.mjs');
      writeFileSync(file, js);
      return { cmd: process.execPath, args: [file, ...args], cwd, env };
    }
    case 'python': {
      writeFileSync(join(dir, 'app.py'), sample.text);
      if (sample.kind === 'serve' && /\bFastAPI\(/.test(sample.text)) {
        return { cmd: python, args: ['-m', 'uvicorn', 'app:app', '--port', String(port)], cwd: dir, env };
      }
      if (sample.kind === 'serve' && /\bFlask\(/.test(sample.text)) {
        return { cmd: python, args: ['-m', 'flask', '--app', 'app', 'run', '--port', String(port)], cwd: dir, env };
      }
      return { cmd: python, args: [join(dir, 'app.py'), ...args], cwd, env };
    }
    case 'go': {
      // docs/go.md: a module of one's own, using the checkout's clients/go through go work.
      writeFileSync(join(dir, 'main.go'), sample.text);
      const goEnv = { ...env, GOWORK: '' };
      for (const step of [['mod', 'init', `docsample.example/sample${ws.count}`], ['work', 'init', '.', join(root, 'clients', 'go')], ['build', '-o', 'sample', '.']]) {
        const r = await run('go', step, { cwd: dir, env: goEnv, timeoutS: BUILD_TIMEOUT_S });
        if (r.code !== 0) throw new Error(`go ${step.join(' ')} failed${r.timedOut ? ' (timed out)' : ''}:\n${r.stdout}${r.stderr}`);
      }
      return { cmd: join(dir, 'sample'), args, cwd, env };
    }
    case 'java': {
      const name = /public\s+(?:final\s+)?class\s+(\w+)/.exec(sample.text)?.[1] ?? 'Sample';
      writeFileSync(join(dir, `${name}.java`), sample.text);
      return { cmd: 'java', args: ['-cp', await ws.classpath(), join(dir, `${name}.java`), ...args], cwd, env };
    }
    case 'rego': {
      // A module added to a copy of the example bundle: compiled as the sidecar loads it; a _test package's tests run.
      const bundle = join(dir, 'policies');
      cpSync(join(root, 'examples', 'policies'), bundle, { recursive: true });
      writeFileSync(join(bundle, 'doc_sample.rego'), sample.text);
      const test = /^package\s+\S+_test\s*$/m.test(sample.text);
      return { cmd: sidecarBin, args: [test ? 'test' : 'check', bundle], cwd, env };
    }
    case 'sh': {
      writeFileSync(join(dir, 'sample.sh'), sample.text);
      return { cmd: 'bash', args: ['-e', '-o', 'pipefail', join(dir, 'sample.sh'), ...args], cwd: sample.attrs.cwd ? cwd : root, env };
    }
    default:
      throw new Error(`no runner for ${sample.lang}`);
  }
}

/**
 * One HTTP GET, with a deadline.
 * @param {number} port
 * @param {string} path
 * @param {string | undefined} token
 */
async function get(port, path, token) {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
    signal: AbortSignal.timeout(15_000),
  });
  const answer = { status: res.status, type: res.headers.get('content-type') ?? '', body: await res.text() };
  if (verbose) console.log(`    GET ${path}${token ? ' (token)' : ''}: ${answer.status} ${answer.type} ${answer.body.slice(0, 300)}`);
  return answer;
}

/**
 * Starts a `serve` sample and waits until it accepts connections.
 * @param {{ cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv }} how
 * @param {number} port
 */
async function startService(how, port) {
  if (!(await waitFree('127.0.0.1', port, 15))) throw new Error(`port ${port} is in use by another process`);
  const service = startProcess(how.cmd, how.args, how);
  const deadline = Date.now() + RUN_TIMEOUT_S * 1000;
  while (!(await listening('127.0.0.1', port))) {
    if (service.proc.exited || Date.now() > deadline) {
      await service.stop();
      throw new Error(`the service did not listen on 127.0.0.1:${port} (${service.proc.exited ? `exit ${service.proc.code}` : 'timeout'}):\n${service.proc.output}`);
    }
    await sleep(200);
  }
  return service;
}

/**
 * Type-checks the TypeScript samples that run, in one strict tsc program (as the repository's own
 * tsconfig.json: NodeNext, strict), each sample a module of its own.
 * @param {Sample[]} samples
 * @param {Workspace} ws
 * @returns {Promise<Map<Sample, string>>} the errors of each sample that has some
 */
async function typecheck(samples, ws) {
  const dir = join(ws.dir, 'typecheck');
  mkdirSync(dir);
  const files = samples.map((s, i) => {
    writeFileSync(join(dir, `sample${i}.mts`), s.text);
    return `sample${i}.mts`;
  });
  const compilerOptions = { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', lib: ['ES2023'], types: ['node'], strict: true, noEmit: true, skipLibCheck: true };
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, files }));
  const r = await run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(dir, 'tsconfig.json'), '--pretty', 'false'], { cwd: dir, timeoutS: 120 });
  const errors = new Map();
  if (r.code === 0) return errors;
  for (const line of `${r.stdout}${r.stderr}`.split('\n')) {
    const m = /^sample(\d+)\.mts\((\d+),(\d+)\): (.*)$/.exec(line);
    const s = m ? samples[Number(m[1])] : undefined;
    if (m && s) errors.set(s, `${errors.get(s) ?? ''}${s.file}:${s.line + Number(m[2])}: ${m[4]}\n`);
  }
  if (errors.size === 0) errors.set(samples[0], `tsc failed:\n${r.stdout}${r.stderr}`);
  return errors;
}

/**
 * Runs one sample (the sidecar up); returns what went wrong, or undefined.
 * @param {Sample} sample
 * @param {Workspace} ws
 * @param {NodeJS.ProcessEnv} env
 * @param {Map<Sample, { how: Awaited<ReturnType<typeof prepare>>, port: number }>} services
 * @returns {Promise<string | undefined>}
 */
async function runSample(sample, ws, env, services) {
  const port = sample.attrs.port ?? (await freePort());
  const how = await prepare(sample, ws, { ...env, PORT: String(port) }, port);
  if (sample.kind === 'serve') {
    services.set(sample, { how, port });
    const service = await startService(how, port);
    try {
      for (const [i, path] of sample.paths.entries()) {
        const r = await get(port, path, env.TOKEN);
        if (r.status !== 200) return `GET ${path} with the token: ${r.status} ${r.body}`;
        if (i === 0 && !r.body.includes('"dev-user"')) return `GET ${path} with the token: 200 without the token's claims: ${r.body}`;
      }
      const r = await get(port, sample.paths[0], undefined);
      if (r.status !== 401 || !r.type.startsWith('application/problem+json')) return `GET ${sample.paths[0]} without a token: ${r.status} ${r.type} ${r.body}`;
      return undefined;
    } finally {
      await service.stop();
    }
  }
  const r = await run(how.cmd, how.args, { cwd: how.cwd, env: how.env });
  const output = `${r.stdout}${r.stderr}`;
  if (verbose) console.log(`    ${output.trim().slice(0, 2000).split('\n').join('\n    ')}`);
  if (r.timedOut) return `timed out after ${RUN_TIMEOUT_S} s:\n${output}`;
  if (r.code !== 0) return `exit ${r.code}:\n${output}`;
  for (const want of sample.attrs.expect) {
    if (!r.stdout.includes(want)) return `stdout lacks "${want}":\n${output}`;
  }
  if (RUNNERS[sample.lang] === 'sh') {
    const documented = documentedOutput(sample.text);
    const printed = jsonObjects(r.stdout);
    let next = 0;
    for (const value of printed) if (next < documented.length && jsonEqual(documented[next], value)) next++;
    if (next < documented.length) {
      return `printed output differs from the documented one:\n  documented: ${JSON.stringify(documented)}\n  printed:    ${JSON.stringify(printed)}`;
    }
  }
  return undefined;
}

/**
 * A service sample with the sidecar stopped: 200 (fail-open) or 503, never a 500 or internal text.
 * @param {{ how: Awaited<ReturnType<typeof prepare>>, port: number }} service
 * @param {Sample} sample
 * @param {string} token
 * @returns {Promise<string | undefined>}
 */
async function checkUnreachable(service, sample, token) {
  const started = await startService(service.how, service.port);
  try {
    for (const path of sample.paths) {
      const r = await get(service.port, path, token);
      if (r.status !== 200 && r.status !== 503) return `GET ${path} with the sidecar stopped: ${r.status} ${r.body}`;
      const leak = LEAKS.find((l) => r.body.toLowerCase().includes(l));
      if (leak) return `GET ${path} with the sidecar stopped: the answer shows internal error text ("${leak}"): ${r.body}`;
    }
    return undefined;
  } finally {
    await started.stop();
  }
}

/**
 * @param {Sample} s
 * @returns {string}
 */
function label(s) {
  return `${s.file}:${s.line} ${s.lang || '(none)'}`;
}

/** Reads the docs, runs the samples, prints one line per block; exits 1 on any failure. */
async function main() {
  const argv = process.argv.slice(2);
  const list = argv.includes('--list');
  const only = argv.filter((a) => !a.startsWith('--'));
  const files = only.length > 0 ? only : docFiles();
  /** @type {Sample[]} */
  const samples = [];
  const errors = [];
  for (const file of files) {
    const parsed = parseMarkdown(file);
    samples.push(...parsed.samples);
    errors.push(...parsed.errors);
  }
  if (errors.length > 0) {
    console.error(`✗ unmarked or badly marked samples (see scripts/doc-samples.mjs):\n  ${errors.join('\n  ')}`);
    process.exit(1);
  }
  const toRun = samples.filter((s) => s.kind === 'run' || s.kind === 'serve');
  for (const s of samples) {
    if (s.kind === 'partial') console.log(`– ${label(s)}: partial${s.reason ? ` (${s.reason})` : ''}`);
    else if (s.kind === 'skip') console.log(`– ${label(s)}: skipped (${s.reason})`);
    else if (list) console.log(`${s.kind === 'other' ? '·' : '▸'} ${label(s)}: ${s.kind === 'other' ? 'not a runnable language' : s.kind}`);
  }
  if (list) return;

  const work = mkdtempSync(join(tmpdir(), 'coresdk-doc-samples-'));
  cleanup.dir = work;
  const failures = [];
  const started = Date.now();
  let sidecar;
  try {
    const ws = new Workspace(work);
    sidecar = await startSidecar(work);
    // XDG_STATE_HOME: the dev key set is the running sidecar's, never the user's.
    const env = { ...process.env, TOKEN: sidecar.token, XDG_STATE_HOME: join(work, 'state'), PATH: `${ws.bin}:${join(root, 'node_modules', '.bin')}:${process.env.PATH ?? ''}` };
    delete env.CORESDK_CONFIG;
    // TypeScript samples must type-check too (strict), before any of them runs.
    const tsSamples = toRun.filter((s) => s.lang === 'ts' || s.lang === 'typescript');
    if (tsSamples.length > 0) {
      const t = Date.now();
      const typeErrors = await typecheck(tsSamples, ws);
      for (const s of tsSamples) report(s, 'types', typeErrors.get(s), t, failures);
    }
    /** @type {Map<Sample, { how: Awaited<ReturnType<typeof prepare>>, port: number }>} */
    const services = new Map();
    for (const s of toRun) {
      const t = Date.now();
      let err;
      try {
        err = await runSample(s, ws, env, services);
      } catch (e) {
        err = e instanceof Error ? e.message : String(e);
      }
      if (sidecar.proc.exited) err = `${err ?? ''}\nthe sidecar exited during this sample:\n${sidecar.proc.output}`;
      report(s, s.kind, err, t, failures);
      if (sidecar.proc.exited) break;
    }
    // The same services with the sidecar gone: the fail mode, and no internal text in any answer.
    await sidecar.stop();
    for (const [s, service] of services) {
      const t = Date.now();
      let err;
      try {
        err = await checkUnreachable(service, s, sidecar.token);
      } catch (e) {
        err = e instanceof Error ? e.message : String(e);
      }
      report(s, 'sidecar stopped', err, t, failures);
    }
  } catch (e) {
    failures.push(`set-up: ${e instanceof Error ? e.message : String(e)}`);
    console.error(`✗ ${failures[failures.length - 1]}`);
  } finally {
    await sidecar?.stop();
    rmSync(work, { recursive: true, force: true });
  }
  const skipped = samples.filter((s) => s.kind === 'partial' || s.kind === 'skip').length;
  console.log(`\n${toRun.length} samples run, ${skipped} marked partial/skip, ${samples.length - toRun.length - skipped} not in a runnable language; ${failures.length} failed (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  if (failures.length > 0) process.exit(1);
}

/**
 * Prints one result line and records a failure.
 * @param {Sample} s
 * @param {string} what
 * @param {string | undefined} err
 * @param {number} t when it started
 * @param {string[]} failures
 */
function report(s, what, err, t, failures) {
  const took = `${((Date.now() - t) / 1000).toFixed(1)} s`;
  if (err === undefined) {
    console.log(`✓ ${label(s)}: ${what} (${took})`);
  } else {
    failures.push(`${label(s)}: ${err}`);
    console.log(`✗ ${label(s)}: ${what} (${took})\n    ${err.trim().split('\n').slice(0, 40).join('\n    ')}`);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
