#!/usr/bin/env node
// Generates each language's copy of the error contract from its one source,
// proto/contract/errors.json: the stable error codes, the gRPC status the
// sidecar answers each with, the RFC 9457 problem an HTTP middleware answers
// with, the RFC 6750 error of a rejected token, and the transport failures.
//
//   node scripts/gen-contract.mjs           writes the generated files
//   node scripts/gen-contract.mjs --check   exits 1 when one is missing or differs (npm test),
//                                           or when docs/proto.md's status table disagrees
//
// The generated files hold data only; each language's hand-written code
// (errors, problem building) reads them. They are kept apart from that code
// (a `generated` folder or a `_gen` file name) and say they are generated.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const SOURCE = 'proto/contract/errors.json';
const CONFIG_SOURCE = 'proto/contract/config.json';
const contract = JSON.parse(readFileSync(join(root, SOURCE), 'utf8'));
const config = JSON.parse(readFileSync(join(root, CONFIG_SOURCE), 'utf8'));
const check = process.argv.includes('--check');

// ---- validation of the source itself -------------------------------------------------------

const GRPC = ['INVALID_ARGUMENT', 'NOT_FOUND', 'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'UNAUTHENTICATED', 'INTERNAL', 'UNAVAILABLE'];
const kinds = contract.problems.map((p) => p.kind);
const problems = [];
function invalid(msg) {
  problems.push(`${SOURCE}: ${msg}`);
}
const seen = new Set();
for (const e of contract.errors) {
  if (!/^ERR_[A-Z0-9_]+$/.test(e.code)) invalid(`${e.code}: a code is ERR_ and capitals`);
  if (seen.has(e.code)) invalid(`${e.code}: listed twice`);
  seen.add(e.code);
  if (typeof e.meaning !== 'string' || e.meaning === '') invalid(`${e.code}: no meaning`);
  if (e.grpc !== null && !GRPC.includes(e.grpc)) invalid(`${e.code}: grpc ${e.grpc} is not one the sidecar uses`);
  if (!kinds.includes(e.problem)) invalid(`${e.code}: problem ${e.problem} is not a problem kind`);
  const kind = contract.problems.find((p) => p.kind === e.problem);
  if (kind !== undefined && e.detail === undefined && kind.detail === undefined) invalid(`${e.code}: neither it nor its problem ${e.problem} has a detail`);
  if (e.rfc6750 !== undefined && e.rfc6750 !== 'invalid_token') invalid(`${e.code}: rfc6750 is invalid_token or absent`);
  // Never fail open on an answer: a transport failure is never a status the sidecar sends.
  if (e.transport === true && e.grpc !== null) invalid(`${e.code}: a transport failure has no sidecar status`);
  if (e.grpc === 'UNAVAILABLE' && e.code !== 'ERR_ENGINE_CLOSED') invalid(`${e.code}: UNAVAILABLE reads as an unreachable sidecar to clients`);
}
const azSeen = new Set();
for (const e of contract.authzen_errors) {
  if (!/^ERR_[A-Z0-9_]+$/.test(e.code) || azSeen.has(e.code)) invalid(`authzen_errors: ${e.code} is not a new ERR_ code`);
  azSeen.add(e.code);
  if (!Number.isInteger(e.status) || e.status < 400 || e.status > 599) invalid(`authzen_errors: ${e.code}: status ${e.status} is not an HTTP error status`);
  if (typeof e.meaning !== 'string' || e.meaning === '') invalid(`authzen_errors: ${e.code}: no meaning`);
}
const TYPES = ['string', 'path', 'url', 'secret', 'bool', 'int', 'list', 'enum', 'address', 'tenant_id'];
const READERS = ['engine', 'sidecar', 'client', 'node'];
for (const t of config.tables) {
  const keys = new Set();
  for (const k of t.keys) {
    const where = `${CONFIG_SOURCE}: ${t.table}.${k.key}`;
    if (!/^[a-z][a-z0-9_]*$/.test(k.key)) problems.push(`${where}: keys are lower case with underscores`);
    if (keys.has(k.key)) problems.push(`${where}: listed twice`);
    keys.add(k.key);
    if (!TYPES.includes(k.type)) problems.push(`${where}: type ${k.type} is not one of ${TYPES.join(', ')}`);
    if (k.type === 'enum' && !(Array.isArray(k.values) && k.values.length > 0)) problems.push(`${where}: an enum lists its values`);
    if (!Array.isArray(k.readers) || k.readers.length === 0 || k.readers.some((r) => !READERS.includes(r))) problems.push(`${where}: readers are some of ${READERS.join(', ')}`);
    if (typeof k.meaning !== 'string' || k.meaning === '') problems.push(`${where}: no meaning`);
    const env = t.env_prefix === null ? undefined : t.env_prefix + k.key.toUpperCase();
    if (k.env !== env) problems.push(`${where}: env must be ${env ?? 'absent'}`);
    if (k.readers.includes('client') && t.table !== 'sdk') problems.push(`${where}: clients read [sdk] only`);
    if (k.readers.includes('client') && k.type === 'int' && !(Number.isInteger(k.min) && Number.isInteger(k.max))) problems.push(`${where}: a client int has min and max`);
  }
}
if (problems.length > 0) {
  for (const p of problems) console.error(p);
  process.exit(1);
}

const errors = contract.errors;
const base = contract.problem_type_base;
const denied = contract.problems.find((p) => p.code !== undefined).code;

// ---- emitters --------------------------------------------------------------------------------

const banner = `Generated by scripts/gen-contract.mjs from ${SOURCE}: do not edit; run \`node scripts/gen-contract.mjs\`.`;
const q = (s) => JSON.stringify(s);
const sq = (s) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

function typescript() {
  const l = [];
  l.push('/**', ` * The error contract. ${banner}`, ' *', ' * @internal', ' * @packageDocumentation', ' */', '');
  l.push('/** Every stable error code, in the contract\'s order. */');
  l.push('export const ERROR_CODES = [');
  for (const e of errors) l.push(`  ${sq(e.code)},`);
  l.push('] as const;', '');
  l.push('/** One of {@link ERROR_CODES}. */', 'export type ContractErrorCode = (typeof ERROR_CODES)[number];', '');
  l.push('/** The kinds of RFC 9457 problem an HTTP middleware answers with. */');
  l.push(`export type ContractProblemKind = ${kinds.map(sq).join(' | ')};`, '');
  l.push('/** The base of every problem `type` URI. */', `export const PROBLEM_TYPE_BASE = ${sq(base)};`, '');
  l.push('/** The `code` of a policy deny (a problem, not an error). */', `export const POLICY_DENIED_CODE = ${sq(denied)};`, '');
  l.push('/** A problem kind: its HTTP status, title and the detail it answers with when the code has none. */');
  l.push('export interface ProblemSpec {', '  readonly status: number;', '  readonly title: string;', '  readonly detail: string | undefined;', '}', '');
  l.push('/** Every problem kind. */', 'export const PROBLEMS: Readonly<Record<ContractProblemKind, ProblemSpec>> = {');
  for (const p of contract.problems) l.push(`  ${sq(p.kind)}: { status: ${p.status}, title: ${sq(p.title)}, detail: ${p.detail === undefined ? 'undefined' : sq(p.detail)} },`);
  l.push('};', '');
  l.push('/** What a code means to a client: the sidecar\'s gRPC status, the problem, the RFC 6750 error, and whether it is a transport failure. */');
  l.push('export interface ErrorSpec {', '  readonly grpc: string | null;', '  readonly problem: ContractProblemKind;', "  readonly rfc6750: 'invalid_token' | undefined;", '  readonly detail: string | undefined;', '  readonly transport: boolean;', '}', '');
  l.push('/** Every error code\'s contract. */', 'export const ERRORS: Readonly<Record<ContractErrorCode, ErrorSpec>> = {');
  for (const e of errors) {
    l.push(
      `  ${e.code}: { grpc: ${e.grpc === null ? 'null' : sq(e.grpc)}, problem: ${sq(e.problem)}, rfc6750: ${e.rfc6750 === undefined ? 'undefined' : sq(e.rfc6750)}, detail: ${e.detail === undefined ? 'undefined' : sq(e.detail)}, transport: ${e.transport === true} },`,
    );
  }
  l.push('};', '');
  return l.join('\n');
}

function python() {
  const l = [];
  l.push('"""The error contract.', '', banner, '"""', '', 'from __future__ import annotations', '', 'from typing import Final, Literal', '');
  l.push('ErrorCode = Literal[');
  for (const e of errors) l.push(`    ${q(e.code)},`);
  l.push(']', '"""Every stable error code, in the contract\'s order."""', '');
  l.push('ERROR_CODE_ORDER: Final[tuple[str, ...]] = (');
  for (const e of errors) l.push(`    ${q(e.code)},`);
  l.push(')', '"""The codes of :data:`ErrorCode`, in order, for run-time checks."""', '');
  l.push('ProblemKind = Literal[');
  for (const k of kinds) l.push(`    ${q(k)},`);
  l.push(']', '"""The kinds of RFC 9457 problem an HTTP middleware answers with."""', '');
  l.push(`PROBLEM_TYPE_BASE: Final = ${q(base)}`, '"""The base of every problem ``type`` URI."""', '');
  l.push(`POLICY_DENIED_CODE: Final = ${q(denied)}`, '"""The ``code`` of a policy deny (a problem, not an error)."""', '');
  l.push('PROBLEMS: Final[dict[str, tuple[int, str, str | None]]] = {');
  for (const p of contract.problems) l.push(`    ${q(p.kind)}: (`, `        ${p.status},`, `        ${q(p.title)},`, `        ${p.detail === undefined ? 'None' : q(p.detail)},`, '    ),');
  l.push('}', '"""Each problem kind: (HTTP status, title, the detail it answers with when the code has none)."""', '');
  l.push('ERRORS: Final[dict[str, tuple[str | None, str, str | None, str | None, bool]]] = {');
  for (const e of errors) {
    l.push(`    ${q(e.code)}: (`);
    for (const v of [e.grpc === null ? 'None' : q(e.grpc), q(e.problem), e.rfc6750 === undefined ? 'None' : q(e.rfc6750), e.detail === undefined ? 'None' : q(e.detail), e.transport === true ? 'True' : 'False']) l.push(`        ${v},`);
    l.push('    ),');
  }
  l.push('}', '"""Each code: (gRPC status from the sidecar, problem kind, RFC 6750 error, HTTP detail, transport failure)."""', '');
  return l.join('\n');
}

function goName(code) {
  const special = { JWKS: 'JWKS', TLS: 'TLS', PII: 'PII' };
  return 'Code' + code.slice(4).split('_').map((w) => special[w] ?? w[0] + w.slice(1).toLowerCase()).join('');
}

function golang() {
  const l = [];
  l.push(`// Code generated by scripts/gen-contract.mjs from ${SOURCE}. DO NOT EDIT.`, '', 'package coresdk', '');
  l.push('// The error codes CoreSDK reports, the same strings in every language.', 'const (');
  for (const e of errors) {
    l.push(`\t// ${goName(e.code)}: ${e.meaning[0].toLowerCase()}${e.meaning.slice(1)}`);
    l.push(`\t${goName(e.code)} Code = ${q(e.code)}`);
  }
  l.push(')', '');
  l.push('// ErrorCodes lists every Code, in the contract\'s order.', 'var ErrorCodes = []Code{');
  for (const e of errors) l.push(`\t${goName(e.code)},`);
  l.push('}', '');
  l.push('// ProblemTypeBase is the base of every problem "type" URI.', `const ProblemTypeBase = ${q(base)}`, '');
  l.push('// codePolicyDenied is the code of a policy deny (a problem, not an error).', `const codePolicyDenied Code = ${q(denied)}`, '');
  l.push('// problemSpec is a problem kind: its HTTP status, title and the detail it answers with when the code has none.');
  l.push('type problemSpec struct {', '\tname   string', '\tstatus int', '\ttitle  string', '\tdetail string', '}', '');
  l.push('// problemSpecs holds every problem kind.', 'var problemSpecs = map[string]problemSpec{');
  for (const p of contract.problems) l.push(`\t${q(p.kind)}: {${q(p.kind)}, ${p.status}, ${q(p.title)}, ${q(p.detail ?? '')}},`);
  l.push('}', '');
  l.push('// errorSpec is what a code means to a client.');
  l.push('type errorSpec struct {', '\tgrpc      string // the sidecar\'s status ("" when the sidecar never sends it)', '\tproblem   string', '\trfc6750   string', '\tdetail    string', '\ttransport bool', '}', '');
  l.push('// errorSpecs holds every code\'s contract.', 'var errorSpecs = map[Code]errorSpec{');
  for (const e of errors) l.push(`\t${goName(e.code)}: {${q(e.grpc ?? '')}, ${q(e.problem)}, ${q(e.rfc6750 ?? '')}, ${q(e.detail ?? '')}, ${e.transport === true}},`);
  l.push('}', '');
  // gofmt aligns composite literals and comments: its output is the file (Go is needed for npm test anyway).
  const r = spawnSync('gofmt', [], { input: l.join('\n'), encoding: 'utf8' });
  if (r.status !== 0) {
    console.error(`gofmt failed (${r.error?.message ?? r.stderr}): Go's gofmt must be on PATH`);
    process.exit(1);
  }
  return r.stdout;
}

function javaStr(s) {
  return s === undefined || s === null ? 'null' : q(s);
}

function java() {
  const l = [];
  l.push('package dev.coresdk.internal.contract;', '');
  l.push('import java.util.List;', 'import java.util.Map;', '');
  l.push('/**', ' * The error contract.', ' *', ` * <p>${banner.replace(/`/g, '').replace(': do not edit', ':\n * do not edit')}`, ' *', ' * <p>Internal to the SDK: not part of its API.', ' */');
  l.push('public final class Contract {');
  l.push('  /** The base of every problem {@code type} URI. */', `  public static final String PROBLEM_TYPE_BASE = ${q(base)};`, '');
  l.push('  /** The {@code code} of a policy deny (a problem, not an error). */', `  public static final String POLICY_DENIED_CODE = ${q(denied)};`, '');
  l.push('  /** Every stable error code, in the contract\'s order. */', '  public static final List<String> ERROR_CODES =', '      List.of(');
  errors.forEach((e, i) => l.push(`          ${q(e.code)}${i === errors.length - 1 ? ');' : ','}`));
  l.push('');
  l.push('  /**', '   * A problem kind.', '   *', '   * @param status the HTTP status', '   * @param title the title', '   * @param detail the detail it answers with when the code has none, or {@code null}', '   */');
  l.push('  public record ProblemSpec(int status, String title, String detail) {}', '');
  l.push('  /**', '   * What a code means to a client.', '   *', '   * @param grpc the sidecar\'s gRPC status, or {@code null} when the sidecar never sends it', '   * @param problem the problem kind', '   * @param rfc6750 the RFC 6750 error, or {@code null}', '   * @param detail the HTTP detail, or {@code null} for the problem\'s', '   * @param transport whether it is a transport failure', '   */');
  l.push('  public record ErrorSpec(String grpc, String problem, String rfc6750, String detail, boolean transport) {}', '');
  l.push('  /** Every problem kind, by its slug. */', '  public static final Map<String, ProblemSpec> PROBLEMS =', '      Map.of(');
  contract.problems.forEach((p, i) => l.push(`          ${q(p.kind)},`, `          new ProblemSpec(${p.status}, ${q(p.title)}, ${javaStr(p.detail)})${i === contract.problems.length - 1 ? ');' : ','}`));
  l.push('');
  l.push('  /** Every error code\'s contract. */', '  public static final Map<String, ErrorSpec> ERRORS =', '      Map.ofEntries(');
  errors.forEach((e, i) => {
    l.push('          Map.entry(', `              ${q(e.code)},`, '              new ErrorSpec(');
    l.push(`                  ${javaStr(e.grpc)},`, `                  ${q(e.problem)},`, `                  ${javaStr(e.rfc6750)},`, `                  ${javaStr(e.detail)},`);
    l.push(`                  ${e.transport === true}))${i === errors.length - 1 ? ');' : ','}`);
  });
  l.push('');
  l.push('  private Contract() {}', '}', '');
  return l.join('\n');
}

function markdown() {
  const l = [];
  l.push('# Error codes', '', `<!-- ${banner} -->`, '');
  l.push('Every CoreSDK component and client reports failures with these stable codes: branch on the code, never on the');
  l.push('message. The sidecar sends each as a gRPC status with a `google.rpc.ErrorInfo` (domain `coresdk.dev`, reason the');
  l.push('code); HTTP middleware in every language answers with the RFC 9457 problem below. Only the transport failures');
  l.push('(the sidecar could not be reached) let a fail mode apply; every other code is an answer, and a denial.', '');
  l.push('| Code | Meaning | gRPC status (sidecar) | HTTP problem | RFC 6750 `error` |', '| --- | --- | --- | --- | --- |');
  for (const e of errors) {
    const p = contract.problems.find((x) => x.kind === e.problem);
    const grpc = e.grpc === null ? (e.transport === true ? '— (transport failure: the fail mode applies)' : '—') : `\`${e.grpc}\``;
    l.push(`| \`${e.code}\` | ${e.meaning} | ${grpc} | ${p.status} \`${e.problem}\` | ${e.rfc6750 === undefined ? '' : `\`${e.rfc6750}\``} |`);
  }
  l.push('', '## Problems', '', `Each problem's \`type\` is \`${base}<kind>\`; \`status\` is the HTTP status, \`code\` the error code.`, '');
  l.push('| Kind | Status | Title | Detail (when the code has none of its own) | Meaning |', '| --- | --- | --- | --- | --- |');
  for (const p of contract.problems) l.push(`| \`${p.kind}\` | ${p.status} | ${p.title} | ${p.detail ?? ''} | ${p.meaning}${p.code === undefined ? '' : ` (\`code\`: \`${p.code}\`)`} |`);
  l.push('', '## The AuthZEN API\'s request errors', '', 'Errors of a whole AuthZEN request are HTTP errors with an RFC 9457 body ([authzen.md](authzen.md)):', '');
  l.push('| Code | HTTP status | When |', '| --- | --- | --- |');
  for (const e of contract.authzen_errors) l.push(`| \`${e.code}\` | ${e.status} | ${e.meaning} |`);
  l.push('');
  return l.join('\n');
}

function rustAuthzen() {
  const l = [`// ${banner}`, ''];
  for (const e of contract.authzen_errors) {
    l.push(`/// ${e.meaning}`, `pub const ${e.code}: &str = ${q(e.code)};`, '');
  }
  l.push('/// Each code of the AuthZEN API\'s request errors with its HTTP status.');
  l.push('pub const STATUS: &[(&str, u16)] = &[');
  for (const e of contract.authzen_errors) l.push(`    (${e.code}, ${e.status}),`);
  l.push('];', '');
  const r = spawnSync('rustfmt', ['--edition', '2021', '--emit', 'stdout'], { input: l.join('\n'), encoding: 'utf8' });
  if (r.status !== 0) {
    console.error(`rustfmt failed (${r.error?.message ?? r.stderr}): Rust's rustfmt must be on PATH`);
    process.exit(1);
  }
  return r.stdout;
}

// ---- configuration keys ---------------------------------------------------------------------

const cbanner = `Generated by scripts/gen-contract.mjs from ${CONFIG_SOURCE}: do not edit; run \`node scripts/gen-contract.mjs\`.`;
/** The table's name in generated code: `<...>` segments become `*`. */
const tableName = (t) => t.table.replace(/<[^>]+>/g, '*');
const clientKeys = config.tables.find((t) => t.table === 'sdk').keys.filter((k) => k.readers.includes('client'));
const rustConst = { sdk: 'SDK_KEYS', sidecar: 'SIDECAR_KEYS', 'sidecar.authzen': 'AUTHZEN_KEYS', 'sidecar.clients.*': 'CLIENT_TABLE_KEYS', 'tenants.*': 'TENANT_KEYS' };

function rustKeys() {
  const l = [`// ${cbanner}`, ''];
  for (const t of config.tables) {
    const name = rustConst[tableName(t)];
    l.push(`/// The keys of \`[${t.table}]\`${t.env_prefix === null ? ' (no variable overrides them)' : `; each maps to \`${t.env_prefix}<KEY>\``}.`);
    l.push(`pub const ${name}: &[&str] = &[`);
    for (const k of t.keys) l.push(`    ${q(k.key)},`);
    l.push('];', '');
  }
  l.push('/// The `[sdk]` keys every client of the sidecar reads (Node, Python, Go, Java); they ignore the others.');
  l.push('pub const CLIENT_KEYS: &[&str] = &[');
  for (const k of clientKeys) l.push(`    ${q(k.key)},`);
  l.push('];', '');
  l.push('/// The `[sdk]` keys the Node package reads besides [`CLIENT_KEYS`].');
  l.push('pub const NODE_KEYS: &[&str] = &[');
  for (const k of config.tables.find((t) => t.table === 'sdk').keys.filter((k) => k.readers.includes('node'))) l.push(`    ${q(k.key)},`);
  l.push('];', '');
  // rustfmt decides the layout (cargo fmt runs over the crate): its output is the file.
  const r = spawnSync('rustfmt', ['--edition', '2021', '--emit', 'stdout'], { input: l.join('\n'), encoding: 'utf8' });
  if (r.status !== 0) {
    console.error(`rustfmt failed (${r.error?.message ?? r.stderr}): Rust's rustfmt must be on PATH`);
    process.exit(1);
  }
  return r.stdout;
}

function pyLiteral(v) {
  if (v === null || v === undefined) return 'None';
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'number') return String(v);
  return q(v);
}

function pythonKeys() {
  const l = ['"""The configuration contract.', '', cbanner, '"""', '', 'from __future__ import annotations', '', 'from typing import Final, NamedTuple', '', ''];
  l.push('class ClientKey(NamedTuple):', '    """An ``[sdk]`` key clients read: its variable, type, default and limits."""', '');
  l.push('    env: str', '    """The ``CORESDK_*`` variable that overrides it."""');
  l.push('    type: str', '    """``string``, ``path``, ``int``, ``enum``, ``address`` or ``tenant_id``."""');
  l.push('    default: str | int | None', '    """The default (``None``: unset)."""');
  l.push('    values: tuple[str, ...]', '    """An enum\'s values."""');
  l.push('    min: int | None', '    """An int\'s least value."""');
  l.push('    max: int | None', '    """An int\'s greatest value."""', '', '');
  l.push('TABLE_KEYS: Final[dict[str, frozenset[str]]] = {');
  for (const t of config.tables) {
    l.push(`    ${q(tableName(t))}: frozenset(`, '        {');
    for (const k of t.keys) l.push(`            ${q(k.key)},`);
    l.push('        }', '    ),');
  }
  l.push('}', '"""Every key of every table (``<...>`` segments written ``*``); a key listed nowhere is ``ERR_CONFIG``."""', '');
  l.push('CLIENT_KEYS: Final[dict[str, ClientKey]] = {');
  for (const k of clientKeys) {
    l.push(`    ${q(k.key)}: ClientKey(`);
    l.push(`        env=${q(k.env)},`, `        type=${q(k.type)},`, `        default=${pyLiteral(k.default)},`);
    const values = k.values ?? [];
    const tuple = values.length === 1 ? `(${q(values[0])},)` : `(${values.map(q).join(', ')})`;
    l.push(`        values=${tuple},`, `        min=${pyLiteral(k.min)},`, `        max=${pyLiteral(k.max)},`, '    ),');
  }
  l.push('}', '"""The ``[sdk]`` keys clients read, in the contract\'s order; they accept the others without reading them."""', '');
  return l.join('\n');
}

function goLiteral(v) {
  if (v === null || v === undefined) return 'nil';
  return typeof v === 'number' ? `int64(${v})` : q(v);
}

function golangKeys() {
  const l = [`// Code generated by scripts/gen-contract.mjs from ${CONFIG_SOURCE}. DO NOT EDIT.`, '', 'package coresdk', ''];
  l.push('// tableKeys holds every key of every coresdk.toml table (<...> segments written *);', '// a key listed nowhere is ERR_CONFIG.', 'var tableKeys = map[string][]string{');
  for (const t of config.tables) l.push(`\t${q(tableName(t))}: {${t.keys.map((k) => q(k.key)).join(', ')}},`);
  l.push('}', '');
  l.push('// clientKey is an [sdk] key clients read: its variable, type, default and limits.');
  l.push('type clientKey struct {', '\tname   string', '\tenv    string', '\ttyp    string', '\tdef    any', '\tvalues []string', '\tmin    int64', '\tmax    int64', '}', '');
  l.push('// clientKeys lists the [sdk] keys clients read, in the contract\'s order; they accept the others without reading them.', 'var clientKeys = []clientKey{');
  for (const k of clientKeys) {
    l.push(`\t{${q(k.key)}, ${q(k.env)}, ${q(k.type)}, ${goLiteral(k.default)}, ${k.values === undefined ? 'nil' : `[]string{${k.values.map(q).join(', ')}}`}, ${k.min ?? 0}, ${k.max ?? 0}},`);
  }
  l.push('}', '');
  const r = spawnSync('gofmt', [], { input: l.join('\n'), encoding: 'utf8' });
  if (r.status !== 0) {
    console.error(`gofmt failed (${r.error?.message ?? r.stderr}): Go's gofmt must be on PATH`);
    process.exit(1);
  }
  return r.stdout;
}

function javaKeys() {
  const l = ['package dev.coresdk.internal.contract;', '', 'import java.util.List;', 'import java.util.Map;', 'import java.util.Set;', ''];
  l.push('/**', ' * The configuration contract.', ' *', ` * <p>${cbanner.replace(/`/g, '').replace(': do not edit', ':\n * do not edit')}`, ' *', ' * <p>Internal to the SDK: not part of its API.', ' */');
  l.push('public final class ConfigContract {');
  l.push('  /**', '   * An {@code [sdk]} key clients read.', '   *', '   * @param env the {@code CORESDK_*} variable that overrides it', '   * @param type {@code string}, {@code path}, {@code int}, {@code enum}, {@code address} or {@code tenant_id}');
  l.push('   * @param defaultValue the default ({@code null}: unset)', '   * @param values an enum\'s values', '   * @param min an int\'s least value, or {@code null}', '   * @param max an int\'s greatest value, or {@code null}', '   */');
  l.push('  public record ClientKey(String env, String type, Object defaultValue, List<String> values, Long min, Long max) {}', '');
  l.push('  /** Every key of every table ({@code <...>} segments written {@code *}); a key listed nowhere is ERR_CONFIG. */');
  l.push('  public static final Map<String, Set<String>> TABLE_KEYS =', '      Map.of(');
  config.tables.forEach((t, i) => {
    l.push(`          ${q(tableName(t))},`, '          Set.of(');
    t.keys.forEach((k, j) => l.push(`              ${q(k.key)}${j === t.keys.length - 1 ? `)${i === config.tables.length - 1 ? ');' : ','}` : ','}`));
  });
  l.push('');
  l.push('  /** The {@code [sdk]} keys clients read, in the contract\'s order; they accept the others without reading them. */');
  l.push('  public static final Map<String, ClientKey> CLIENT_KEYS = clientKeys();', '');
  l.push('  private static Map<String, ClientKey> clientKeys() {', '    Map<String, ClientKey> m = new java.util.LinkedHashMap<>();');
  for (const k of clientKeys) {
    const def = k.default === null || k.default === undefined ? 'null' : typeof k.default === 'number' ? `${k.default}L` : q(k.default);
    l.push(`    m.put(`, `        ${q(k.key)},`, `        new ClientKey(`, `            ${q(k.env)},`, `            ${q(k.type)},`, `            ${def},`);
    l.push(`            List.of(${(k.values ?? []).map(q).join(', ')}),`, `            ${k.min === undefined ? 'null' : `${k.min}L`},`, `            ${k.max === undefined ? 'null' : `${k.max}L`}));`);
  }
  l.push('    return java.util.Collections.unmodifiableMap(m);', '  }', '');
  l.push('  private ConfigContract() {}', '}', '');
  return l.join('\n');
}

const outputs = [
  ['src/generated/contract.ts', typescript()],
  ['clients/python/src/coresdk/_generated/contract.py', python()],
  ['clients/python/src/coresdk/_generated/__init__.py', `"""Code generated from the repository's contracts (${SOURCE}); not part of the API."""\n`],
  ['clients/go/coresdk/contract_gen.go', golang()],
  ['clients/java/coresdk/src/main/java/dev/coresdk/internal/contract/Contract.java', java()],
  ['docs/errors.md', markdown()],
  ['native/sidecar/src/generated/authzen_errors.rs', rustAuthzen()],
  ['native/engine/src/generated/config_keys.rs', rustKeys()],
  ['clients/python/src/coresdk/_generated/config_keys.py', pythonKeys()],
  ['clients/go/coresdk/config_keys_gen.go', golangKeys()],
  ['clients/java/coresdk/src/main/java/dev/coresdk/internal/contract/ConfigContract.java', javaKeys()],
];

// docs/proto.md's table of statuses (hand-written explanations) must list each code under the status the contract gives.
function protoTableProblems() {
  const text = readFileSync(join(root, 'docs', 'proto.md'), 'utf8');
  const listed = new Map();
  for (const line of text.split('\n')) {
    const m = /^\| `([A-Z_]+)` \| ([^|]*) \|/.exec(line);
    if (m === null || !GRPC.includes(m[1])) continue;
    for (const c of m[2].matchAll(/`(ERR_[A-Z0-9_]+)`/g)) listed.set(c[1], m[1]);
  }
  const out = [];
  for (const e of errors) {
    if (e.grpc === null) continue;
    if (listed.get(e.code) !== e.grpc) out.push(`docs/proto.md: ${e.code} must be listed under ${e.grpc} (found ${listed.get(e.code) ?? 'nowhere'})`);
  }
  return out;
}

let stale = 0;
for (const [rel, text] of outputs) {
  const path = join(root, rel);
  let current;
  try {
    current = readFileSync(path, 'utf8');
  } catch {
    current = undefined;
  }
  if (current === text) continue;
  if (check) {
    console.error(`${rel}: ${current === undefined ? 'missing' : 'out of date'} (run node scripts/gen-contract.mjs)`);
    stale++;
  } else {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
    console.log(`wrote ${relative(root, path)}`);
  }
}
// Every key is documented: named in backticks in one of docs/*.md.
function undocumentedKeys() {
  const docs = ['configuration.md', 'bundles.md', 'pii.md', 'client.md', 'authzen.md', 'security.md', 'operations.md'].map((f) => readFileSync(join(root, 'docs', f), 'utf8')).join('\n');
  const out = [];
  for (const t of config.tables) for (const k of t.keys) if (!docs.includes(`\`${k.key}\``)) out.push(`docs/: [${t.table}] ${k.key} is documented nowhere`);
  return out;
}

// docs/authzen.md's table of request errors lists exactly the contract's codes and statuses.
function authzenTableProblems() {
  const text = readFileSync(join(root, 'docs', 'authzen.md'), 'utf8');
  const rows = [...text.matchAll(/^\| (\d{3}) \| `(ERR_[A-Z0-9_]+)` \|/gm)].map((m) => `${m[2]} ${m[1]}`).sort();
  const want = contract.authzen_errors.map((e) => `${e.code} ${e.status}`).sort();
  return JSON.stringify(rows) === JSON.stringify(want) ? [] : [`docs/authzen.md: the request-error table (${rows.join(', ')}) differs from the contract (${want.join(', ')})`];
}

const docProblems = [...protoTableProblems(), ...undocumentedKeys(), ...authzenTableProblems()];
for (const p of docProblems) console.error(p);
if (stale > 0 || docProblems.length > 0) process.exit(1);
if (check) console.log(`${outputs.length} generated files match ${SOURCE}`);
