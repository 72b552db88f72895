/**
 * A seeded generator of Rego v1 policies, their data documents and random
 * inputs, for the differential test against OPA
 * (`__test__/opa.differential.test.ts`).
 *
 * Every case is one module, `package gen.cN`, whose data lives at
 * `data.d.cN` (a per-case root, so that many cases can share one OPA server
 * or one sidecar bundle). A policy is a random combination of fragments, each
 * a realistic shape with random parameters: RBAC/ABAC/deny-set rules,
 * complete rules with several definitions and helper rules used as values
 * and as keys, iterating rules, dotted keys, `some i` shadowing a rule name,
 * functions with repeated parameters, `not` over calls whose arguments may be
 * missing, membership as a value, comprehensions (with shadowing), `every`,
 * numeric edge values, Unicode case mapping and counting, `glob.match` with
 * delimiters, `regex.match` with Perl classes on non-ASCII text, number keys
 * into data, `object.get`, `else` chains and `default` rules. Inputs mix the
 * fields the policy reads with missing fields, values of other kinds and edge
 * values.
 *
 * Shapes CoreSDK may refuse at load (repeated function parameters, `some i`
 * naming a rule, `{"admin"}[x]`, comprehension shadowing, numbers no double
 * holds, `{1} == [1]`) are "risky" fragments that make a policy of their own, so that a
 * refusal does not hide the other shapes; numbers no double holds appear in
 * inputs only for those policies. `invalidShare` adds fragments OPA refuses
 * to compile, to check that CoreSDK refuses them too.
 *
 * JSON numbers that a JS number cannot hold exactly (`9007199254740993`,
 * `100.0000000000000001`, `-0`, `1e-400`) are {@link RawNumber}s, written as
 * their text by {@link jsonText}, so that every evaluator receives the same
 * JSON text. A case depends only on (seed, index, options):
 * `generateCase(seed, index)` reproduces any case of a run.
 */
import { rng } from './rng.js';

/** A JSON number kept as its exact text. */
export class RawNumber {
  /** @param text - the number's JSON text, e.g. `9007199254740993` or `1e-400` */
  constructor(readonly text: string) {}
}

/** A JSON value of a generated document (data or input). */
export type GenValue = null | boolean | number | string | RawNumber | GenValue[] | { [key: string]: GenValue };

/** A rule of a generated policy that the test queries. */
export interface GenRule {
  /** The rule's name. */
  readonly name: string;
  /** `data.gen.cN.<name>`. */
  readonly query: string;
  /** Whether the rule is a partial set (`contains`): its value's order carries no meaning. */
  readonly isSet: boolean;
}

/** One generated case: a policy, its data and the inputs to evaluate it on. */
export interface GenCase {
  /** `cN`, unique per (seed, index). */
  readonly id: string;
  /** The run's seed. */
  readonly seed: number;
  /** The case's index in the run. */
  readonly index: number;
  /** `gen.cN`. */
  readonly pkg: string;
  /** Where the case's data is mounted: `["d", "cN"]`, i.e. `data.d.cN`. */
  readonly dataPath: readonly string[];
  /** The module's Rego source. */
  readonly source: string;
  /** The case's data document (mounted at {@link GenCase.dataPath}). */
  readonly data: GenValue;
  /** Every rule the module defines at top level, functions excepted. */
  readonly rules: readonly GenRule[];
  /** Inputs to evaluate every rule on. */
  readonly inputs: readonly GenValue[];
  /** The fragment kinds the policy is made of. */
  readonly shapes: readonly string[];
}

/** Options of {@link generateCase}. */
export interface GenOptions {
  /** Inputs per case. Default 8. */
  inputs?: number;
  /** Fragments per policy: at least `minFragments`, at most `maxFragments`. Defaults 2 and 5. */
  minFragments?: number;
  /** See {@link GenOptions.minFragments}. */
  maxFragments?: number;
  /** Share of the policies (0 to 1) given one fragment that OPA refuses to compile. Default 0. */
  invalidShare?: number;
  /** Only these fragments (by name, {@link FRAGMENT_NAMES}); default every one. */
  fragments?: readonly string[];
}

/** JSON text of a generated value: {@link RawNumber}s as their exact text, keys in insertion order. */
export function jsonText(v: GenValue): string {
  if (v instanceof RawNumber) return v.text;
  if (v === null || typeof v !== 'object') {
    if (typeof v === 'number' && Object.is(v, -0)) return '-0';
    return JSON.stringify(v);
  }
  if (Array.isArray(v)) return `[${v.map(jsonText).join(',')}]`;
  return `{${Object.entries(v)
    .map(([k, x]) => `${JSON.stringify(k)}:${jsonText(x)}`)
    .join(',')}}`;
}

/** Whether a generated value holds a {@link RawNumber} (JS numbers cannot carry it). */
export function hasRawNumber(v: GenValue): boolean {
  if (v instanceof RawNumber) return true;
  if (v === null || typeof v !== 'object') return false;
  return (Array.isArray(v) ? v : Object.values(v)).some(hasRawNumber);
}

// ---------------------------------------------------------------------------
// Value pools

const raw = (t: string): RawNumber => new RawNumber(t);

/** Values of a kind nobody expects, swapped in for any field. */
const ODD: readonly GenValue[] = [null, true, false, 0, 7, -1, 1.5, '', 'x', [], {}, ['admin'], { role: 'admin' }, [1, 2], 'a\u0000b', raw('-0'), raw('3.0')];

/** Unicode strings whose case mapping or length differs between implementations. */
const UNICODE: readonly string[] = [
  'admin', 'Admin', 'ADMIN', 'ADMİN', 'admİn', 'İ', 'i\u0307', 'straße', 'STRASSE', 'Straße', 'ΣΑΣ', 'σας', 'σασ', 'ς', 'Σ',
  '😀', 'a😀b', '😀😀', '𝒜', 'é', 'e\u0301', 'ǅ', 'ǆ', 'ﬃ', 'ß', 'ẞ', '\u212a', 'k', 'ŉ', 'ΐ', 'ᾈ', '',
];

/** Texts for `regex.match` with Perl classes. */
const REGEX_TEXTS: readonly string[] = [
  '123', '٣', '١٢٣', '12٣', '３', '²', 'abc', 'é', 'éa', 'a_b', 'ß', 'a b', 'a\tb', '\u00a0', 'a\u2003b', '\u3000', '\u0085',
  'foo', 'foo bar', 'éfoo', 'fooé', 'x-foo-y', '_foo', '', 'A1_', 'Ω', 'x\ny',
];

/** Texts for `glob.match`. */
const GLOB_TEXTS: readonly string[] = [
  'a:b', 'a:b:c', 'a.b', 'a.b.c', 'a', 'ab', 'a:', 'a.', 'a/b', 'a/b/c', 'api/v1', 'api/v1/users', 'x.example.com', 'a.x.example.com',
  'example.com', 'a\u0000b', '', 'A:b', 'a😀', 'a:😀',
];

/**
 * JSON numbers that neither a double nor a 64-bit integer holds exactly
 * (OPA keeps them as exact decimals). They appear in the policies of the
 * `numeric-exact` fragment and in those policies' inputs only, so that an
 * engine refusing them (at load or per input) does not take other shapes
 * with it.
 */
const EXACT_TEXTS: readonly string[] = ['9007199254740993.0', '100.0000000000000001', '1e-400', '18446744073709551616', '1.00000000000000000001e2'];
const EXACT_SET = new Set(EXACT_TEXTS);

/** Numbers, including ones JS cannot hold as written (`-0`, `3.0`, 2^53 + 1) and the {@link EXACT_TEXTS}. */
const NUMBERS: readonly GenValue[] = [
  0, 1, 2, 3, 5, 6, 9, 10, 11, 100, -1, 0.1, 0.2, 0.3, 3.5, 1e300, -1e300, 9007199254740992, 9007199254740991, 1e21, 0.5,
  raw('9007199254740993'), raw('-0'), raw('3.0'), raw('0.30000000000000004'), raw('1.0e2'), raw('10.0'), raw('-9223372036854775808'),
  ...EXACT_TEXTS.map(raw),
];

/** Whether a value is (or holds) one of the {@link EXACT_TEXTS}. */
function isExact(v: GenValue): boolean {
  if (v instanceof RawNumber) return EXACT_SET.has(v.text);
  if (v === null || typeof v !== 'object') return false;
  return (Array.isArray(v) ? v : Object.values(v)).some(isExact);
}

/** Number literals for policy source (the {@link EXACT_TEXTS} excepted). */
const NUM_LITERALS: readonly string[] = [
  '0', '-0', '1', '3', '3.0', '10', '100', '100.0', '0.1', '0.2', '0.3', '0.30000000000000004', '9007199254740992', '9007199254740993',
  '1e308', '1.5', '-1', '1e2', '-9223372036854775808', '0.5e1',
];

function roleLists(): GenValue[] {
  return [['admin'], ['viewer'], ['editor', 'viewer'], ['guest'], [], ['ADMIN'], ['admin', 'banned'], ['viewer', 'admin'], 'admin', ['app.read', 'app.write'], ['app.read', 'x'], [3], [null], ['3']];
}

// ---------------------------------------------------------------------------
// Generation context

interface Field {
  path: string[];
  values: GenValue[];
}

type RuleKind = 'bool' | 'value' | 'set' | 'func';

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;
const KEYWORDS = new Set(['as', 'default', 'else', 'false', 'import', 'package', 'not', 'null', 'true', 'with', 'some', 'in', 'if', 'contains', 'every', 'data', 'input']);

/** Rego text of a string literal. */
function str(s: string): string {
  return JSON.stringify(s);
}

/** Rego text of a reference: `input.a.b`, `input["org.role"]`. */
function ref(root: string, path: readonly string[]): string {
  return root + path.map((p) => (IDENT.test(p) && !KEYWORDS.has(p) ? `.${p}` : `[${str(p)}]`)).join('');
}

class Ctx {
  readonly lines: string[] = [];
  readonly rules = new Map<string, RuleKind>();
  readonly fields = new Map<string, Field>();
  readonly data: Record<string, GenValue> = {};
  readonly shapes: string[] = [];
  /** Boolean helper rules other fragments may combine. */
  readonly bools: string[] = [];
  /** Whether inputs may hold numbers no double holds ({@link EXACT_TEXTS}); set by the `numeric-exact` fragment. */
  exact = false;
  #once = new Set<string>();

  constructor(
    readonly r: () => number,
    readonly dataRef: string,
  ) {}

  int(n: number): number {
    return Math.floor(this.r() * n);
  }

  chance(p: number): boolean {
    return this.r() < p;
  }

  pick<T>(xs: readonly T[]): T {
    const x = xs[this.int(xs.length)];
    if (x === undefined) throw new Error('pick from an empty list');
    return x;
  }

  /** A rule name not used yet, `base` when free. */
  fresh(base: string): string {
    if (!this.rules.has(base) && !KEYWORDS.has(base)) return base;
    for (let i = 2; i < 1000; i++) if (!this.rules.has(`${base}_${i}`)) return `${base}_${i}`;
    throw new Error('no free rule name');
  }

  /** `base` when it is free or already a rule of this kind (to add a definition), else a fresh name. */
  shared(base: string, kind: RuleKind): string {
    const k = this.rules.get(base);
    return k === undefined || k === kind ? base : this.fresh(base);
  }

  define(name: string, kind: RuleKind): string {
    this.rules.set(name, kind);
    if (kind === 'bool' && !this.bools.includes(name)) this.bools.push(name);
    return name;
  }

  /** True the first time `key` is seen. */
  once(key: string): boolean {
    if (this.#once.has(key)) return false;
    this.#once.add(key);
    return true;
  }

  /** Registers an input field the policy reads and returns its reference text. */
  in(path: string[], values: readonly GenValue[]): string {
    const key = JSON.stringify(path);
    const f = this.fields.get(key);
    if (f) {
      for (const v of values) if (!f.values.includes(v)) f.values.push(v);
    } else {
      this.fields.set(key, { path, values: [...values] });
    }
    return ref('input', path);
  }

  /** Sets a member of the case's data and returns its reference text. */
  dat(key: string, value: GenValue): string {
    this.data[key] = value;
    return ref(this.dataRef, [key]);
  }

  emit(...lines: string[]): void {
    this.lines.push(...lines, '');
  }
}

// ---------------------------------------------------------------------------
// Fragments

type Fragment = (c: Ctx) => void;

/** A condition on an input field, true for some generated values and false or undefined for others. */
function condition(c: Ctx): string {
  switch (c.int(7)) {
    case 0:
      return c.in([c.pick(['a', 'b', 'c'])], [true, false, 1, 'yes', null]);
    case 1:
      return `${c.in(['user', 'kind'], ['staff', 'admin', 'x'])} == ${str(c.pick(['staff', 'admin']))}`;
    case 2:
      return `${c.in(['flags', 'admin'], [true, false, 'true'])} == true`;
    case 3:
      return `${c.in(['n'], NUMBERS)} > ${c.pick(['0', '5', '10', '3.0'])}`;
    case 4:
      return `${c.in(['plan'], ['free', 'team', 'pro'])} == ${str(c.pick(['free', 'team']))}`;
    case 5:
      return `"admin" in ${c.in(['user', 'roles'], roleLists())}`;
    default:
      return `${c.in(['user', 'id'], ['alice', 'bob', '', 1])} != "bob"`;
  }
}

const rbac: Fragment = (c) => {
  const grants = c.dat('grants', { admin: ['read', 'write', 'delete'], editor: ['read', 'write'], viewer: ['read'], '3': ['read'], ADMIN: [] });
  const roles = c.in(c.pick([['user', 'roles'], ['roles']]), roleLists());
  const action = c.in(['action'], ['read', 'write', 'delete', 'READ', 3, null, ['read']]);
  const name = c.define(c.shared('allow', 'bool'), 'bool');
  switch (c.int(4)) {
    case 0:
      c.emit(`${name} if {`, `\tsome r in ${roles}`, `\t${action} in ${grants}[r]`, '}');
      break;
    case 1:
      c.emit(`${name} if {`, `\tsome r in ${roles}`, `\t${grants}[r][_] == ${action}`, '}');
      break;
    case 2:
      c.emit(`${name} if {`, `\tr := ${roles}[_]`, `\tsome g in ${grants}[r]`, `\tg == ${action}`, '}');
      break;
    default: {
      const perms = c.define(c.fresh('perms'), 'set');
      c.emit(`${perms} contains p if {`, `\tsome r in ${roles}`, `\tsome p in ${grants}[r]`, '}');
      c.emit(`${name} if ${action} in ${perms}`);
    }
  }
};

const abac: Fragment = (c) => {
  const name = c.define(c.shared('allow', 'bool'), 'bool');
  const owner = c.in(['resource', 'owner'], ['alice', 'bob', null, 1]);
  const uid = c.in(['user', 'id'], ['alice', 'bob', '', 1]);
  const action = c.in(['action'], ['read', 'write', 'delete']);
  switch (c.int(3)) {
    case 0:
      c.emit(`${name} if {`, `\t${owner} == ${uid}`, `\t${action} in {"read", "write"}`, '}');
      break;
    case 1: {
      const level = c.in(['user', 'level'], NUMBERS);
      const sens = c.in(['resource', 'sensitivity'], NUMBERS);
      c.emit(`${name} if {`, `\t${level} >= ${c.pick(NUM_LITERALS)}`, `\t${sens} <= ${level}`, '}');
      break;
    }
    default: {
      const dept = c.in(['user', 'dept'], ['eng', 'ops', 'Eng']);
      const rdept = c.in(['resource', 'dept'], ['eng', 'ops', null]);
      c.emit(`${name} if {`, `\t${dept} == ${rdept}`, `\tnot ${c.in(['resource', 'locked'], [true, false, null])}`, '}');
    }
  }
};

const denySet: Fragment = (c) => {
  const deny = c.define(c.shared(c.pick(['deny', 'violations']), 'set'), 'set');
  const bodies: string[][] = [
    [`${deny} contains "no user" if not ${c.in(['user', 'id'], ['alice', 'bob', '', 1])}`],
    [
      `${deny} contains msg if {`,
      `\t${c.in(['action'], ['read', 'delete', 'write'])} == "delete"`,
      `\tnot "admin" in ${c.in(['user', 'roles'], roleLists())}`,
      '\tmsg := "delete needs admin"',
      '}',
    ],
    [`${deny} contains msg if {`, `\tsome t in ${c.in(['tags'], [['x-a', 'ok'], ['ok'], [], 'x-a', [1], ['x-😀']])}`, '\tstartswith(t, "x-")', '\tmsg := concat(": ", ["bad tag", t])', '}'],
    [`${deny} contains sprintf("level %v too low", [l]) if {`, `\tl := ${c.in(['user', 'level'], NUMBERS)}`, `\tl < ${c.pick(['3', '3.0', '0.3'])}`, '}'],
    [`${deny} contains "banned" if ${c.in(['user', 'roles'], roleLists())}[_] == "banned"`],
  ];
  const n = 1 + c.int(3);
  for (let i = 0; i < n; i++) c.emit(...c.pick(bodies));
  const allow = c.define(c.shared('allow', 'bool'), 'bool');
  switch (c.int(3)) {
    case 0:
      c.emit(`${allow} if {`, `\tcount(${deny}) == 0`, `\t${c.in(['user', 'id'], ['alice', 'bob'])}`, '}');
      break;
    case 1:
      c.emit(`${allow} if count(${deny}) == 0`);
      break;
    default:
      c.emit(`${allow} if {`, `\tnot ${deny}["banned"]`, `\t${condition(c)}`, '}');
  }
};

/** Complete rules of several definitions, used as a value and as a key; `setRef`: the key into a set literal. */
const multiDefOf = (setRef: boolean): Fragment => (c) => {
  const role = c.define(c.fresh(c.pick(['role', 'tier', 'kind'])), 'value');
  const op = c.chance(0.3) ? '=' : ':=';
  const vals = c.chance(0.2) ? ['"admin"', '"admin"'] : ['"admin"', '"guest"'];
  const first = condition(c);
  c.emit(`${role} ${op} ${vals[0] ?? ''} if ${first}`);
  // Now and then definitions that exclude each other (one input path tested both ways), which the
  // fast path's static pass accepts as conflict-free; else two independent conditions.
  const x = c.int(5);
  if (x === 0) c.emit(`${role} ${op} ${vals[1] ?? ''} if not ${first}`);
  else if (x === 1) c.emit(`${role} ${op} ${vals[1] ?? ''} if ${c.in(['plan'], ['free', 'team', 'pro'])} == "team"`, `${role} ${op} "viewer" if ${c.in(['plan'], [])} == "free"`);
  else c.emit(`${role} ${op} ${vals[1] ?? ''} if ${condition(c)}`);
  if (c.chance(0.3)) c.emit(`${role} := "viewer" if { ${condition(c)} }`);
  if (c.chance(0.35)) c.emit(`default ${role} := "none"`);
  const allow = c.define(c.fresh(`is_${role}`), 'bool');
  switch (setRef ? 6 : c.int(6)) {
    case 0:
      c.emit(`${allow} if ${role} == "admin"`);
      break;
    case 1:
      c.emit(`${allow} if ${role} = "admin"`);
      break;
    case 2:
      c.emit(`${allow} if "admin" = ${role}`);
      break;
    case 3:
      c.emit(`${allow} if ${c.dat('roleperm', { admin: true, guest: false, none: false })}[${role}]`);
      break;
    case 4:
      c.emit(`${allow} if {"admin": true, "guest": false}[${role}]`);
      break;
    case 5:
      c.emit(`${allow} if ${role} in {"admin", "root"}`);
      break;
    default:
      c.emit(`${allow} if {"admin"}[${role}]`);
  }
  if (c.chance(0.4)) c.emit(`${c.define(c.fresh('not_' + role), 'bool')} if not ${role} == "admin"`);
};
const multiDef = multiDefOf(false);
const setLiteralRef = multiDefOf(true);

const iterating: Fragment = (c) => {
  const roles = c.in(c.pick([['roles'], ['user', 'roles']]), roleLists());
  const primary = c.define(c.fresh('primary'), 'value');
  switch (c.int(3)) {
    case 0:
      c.emit(`${primary} := r if some r in ${roles}`);
      break;
    case 1:
      c.emit(`${primary} := r if {`, `\tsome r in ${roles}`, `\tstartswith(r, "a")`, '}');
      break;
    default:
      c.emit(`${primary} := ${roles}[0]`);
  }
  c.emit(`${c.define(c.fresh('primary_admin'), 'bool')} if ${primary} == "admin"`);
  if (c.chance(0.5)) c.emit(`${c.define(c.fresh('has_primary'), 'bool')} if ${primary}`);
};

const dotted: Fragment = (c) => {
  const vals: GenValue[] = ['admin', 'Admin', 'guest', null, 1];
  const a = c.in(['org.role'], vals);
  const b = c.in(['org', 'role'], vals);
  const name = c.define(c.fresh('org_admin'), 'bool');
  switch (c.int(3)) {
    case 0:
      c.emit(`${name} if ${a} == "admin"`);
      c.emit(`${c.define(c.fresh('org_admin_nested'), 'bool')} if ${b} == "admin"`);
      break;
    case 1:
      c.emit(`${name} if ${a} == ${b}`);
      break;
    default:
      c.emit(`${name} if object.get(input, ${c.pick(['"org.role"', '["org", "role"]', '["org.role"]'])}, "none") == "admin"`);
  }
};

const someShadow: Fragment = (c) => {
  if (c.rules.has('i')) return;
  const i = c.define('i', 'value');
  const iv = c.pick(['0', '1', '"a"', '5']);
  c.emit(`i := ${iv}`);
  const xs = c.in(['xs'], [['b', 'a'], ['a'], [], { a: 'a', k: 'a' }, 'a', ['a', 'a'], null]);
  const found = c.define(c.fresh('found'), 'bool');
  c.emit(`${found} if {`, '\tsome i', `\t${xs}[i] == "a"`, '}');
  if (c.chance(0.6)) {
    const idx = c.define(c.fresh('idx'), 'set');
    c.emit(`${idx} contains i if {`, '\tsome i', `\t${xs}[i] == "a"`, '}');
  }
  // Compared with a value of its own type: OPA's type checker refuses `"a" == 1`.
  if (c.chance(0.5)) c.emit(`${c.define(c.fresh('uses_i'), 'bool')} if ${i} == ${iv === '"a"' ? '"a"' : '1'}`);
  if (c.chance(0.4)) {
    const v = c.define(c.fresh('pairs'), 'set');
    c.emit(`${v} contains [i, x] if some i, x in ${xs}`);
  }
};

const repeatedParams: Fragment = (c) => {
  if (c.once('same')) {
    c.define('same', 'func');
    c.emit('same(x, x) := true');
    if (c.chance(0.4)) c.emit('same(x, y) := false if x != y');
  }
  const a = c.in(['a'], [1, 2, 'x', raw('1.0'), null, [1]]);
  const b = c.in(['b'], [1, 2, 'x', raw('1.0'), null, [1]]);
  c.emit(`${c.define(c.fresh('same_ab'), 'bool')} if same(${a}, ${b})`);
  if (c.chance(0.5)) c.emit(`${c.define(c.fresh('same_v'), 'value')} := same(${a}, ${b})`);
  if (c.chance(0.4)) c.emit(`${c.define(c.fresh('same_lit'), 'value')} := same(${c.pick(['1, 2', '1, 1', '1, 1.0', '"a", "a"'])})`);
};

const functions: Fragment = (c) => {
  if (c.once('size')) {
    c.define('size', 'func');
    c.emit('size(x) := "small" if x < 10', 'size(x) := "big" if x >= 10');
    if (c.chance(0.5)) c.emit('size(x) := "ten" if x == 10');
  }
  const n = c.in(['n'], NUMBERS);
  c.emit(`${c.define(c.fresh('size_n'), 'value')} := size(${n})`);
  if (c.once('ok')) {
    c.define('ok', 'func');
    c.emit('ok(u) if u.active == true');
  }
  const u = c.in(['user'], [{ active: true }, { active: false }, {}, 'x', null, [1]]);
  c.emit(`${c.define(c.fresh('inactive'), 'bool')} if not ok(${u})`);
};

const negation: Fragment = (c) => {
  const path = c.in(c.pick([['path'], ['missing'], ['req', 'path']]), ['/admin', '/admin/x', '/api', 'admin', '', 5, null, ['/admin']]);
  const role = c.in(['role'], ['banned', 'blocked', 'admin', null, 3, ['banned']]);
  const shapes: Array<() => string[]> = [
    () => [`${c.define(c.fresh('not_admin_path'), 'bool')} if not startswith(${path}, "/admin")`],
    () => [`${c.define(c.fresh('not_admin_path'), 'bool')} if {`, `\tx := ${path}`, '\tnot startswith(x, "/admin")', '}'],
    () => [`${c.define(c.fresh('not_banned'), 'bool')} if not ${role} in {"banned", "blocked"}`],
    () => [`${c.define(c.fresh('not_banned'), 'bool')} if not ${role} == "banned"`],
    // `==` under `not` is true on a missing operand in OPA; `!=` and the orderings are undefined.
    () => [`${c.define(c.fresh('not_banned'), 'bool')} if not ${role} != "admin"`],
    () => [`${c.define(c.fresh('not_low'), 'bool')} if not ${c.in(['user', 'level'], NUMBERS)} ${c.pick(['<', '<=', '>', '>='])} ${c.pick(['3', '0', '0.5'])}`],
    () => [`${c.define(c.fresh('not_banned'), 'bool')} if not ${role} in ${c.dat('banned', ['banned', 'blocked'])}`],
    () => [`${c.define(c.fresh('not_upper'), 'bool')} if not upper(${path}) == "/ADMIN"`],
    () => [`${c.define(c.fresh('not_counted'), 'bool')} if not count(${path}) > 3`],
    () => [`${c.define(c.fresh('not_endswith'), 'bool')} if { not endswith(${path}, "x"); ${condition(c)} }`],
  ];
  const n = 1 + c.int(3);
  for (let k = 0; k < n; k++) c.emit(...c.pick(shapes)());
};

const memberValue: Fragment = (c) => {
  const role = c.in(['role'], ['a', 'b', 'admin', null, 1, ['a']]);
  switch (c.int(4)) {
    case 0:
      c.emit(`${c.define(c.fresh('member'), 'value')} := ${role} in {"a", "b"}`);
      break;
    case 1:
      c.emit(`${c.define(c.fresh('member'), 'bool')} if {`, `\tv := ${role} in ${c.dat('roles', ['a', 'admin'])}`, '\tv == false', '}');
      break;
    case 2:
      c.emit(`${c.define(c.fresh('member'), 'value')} := x if {`, `\tx := ${role} in ["admin"]`, '}');
      break;
    default:
      c.emit(`${c.define(c.fresh('member'), 'value')} := ${role} in ${c.in(['allowed'], [['a'], { k: 'a' }, 'a', null, []])}`);
  }
};

const comprehensions: Fragment = (c) => {
  const approvals = c.in(['approvals'], [
    [{ name: 'a' }, { name: 'b' }],
    [{ name: 'a' }, { nom: 'b' }, { name: 'c' }],
    [{ name: 'a' }, { name: 'a' }],
    [{ nom: 'x' }, 'y', 3],
    [],
    { k: { name: 'x' } },
    'ab',
    null,
  ]);
  switch (c.int(5)) {
    case 0:
      c.emit(`${c.define(c.fresh('two_approvals'), 'bool')} if count([a.name | some a in ${approvals}]) >= 2`);
      break;
    case 1:
      c.emit(`${c.define(c.fresh('names'), 'value')} := [a.name | some a in ${approvals}]`);
      break;
    case 2:
      c.emit(`${c.define(c.fresh('distinct'), 'value')} := {a.name | some a in ${approvals}}`);
      break;
    case 3:
      c.emit(`${c.define(c.fresh('by_name'), 'value')} := {a.name: i | some i, a in ${approvals}}`);
      break;
    default: {
      const list = c.in(['list'], [['a', 'b'], ['a'], [], 'a', [1, 'a'], null]);
      c.emit(`${c.define(c.fresh('upper_names'), 'value')} := {upper(x) | some x in ${list}}`);
    }
  }
};

/** `some y` inside a comprehension shadowing an outer `y`. */
const comprehensionShadow: Fragment = (c) => {
  const list = c.in(['list'], [['a', 'b'], ['a'], [], 'a', [1, 'a'], null]);
  c.emit(
    `${c.define(c.fresh('shadow'), 'bool')} if {`,
    `\ty := ${c.in(['y'], ['a', 'b', 1, null])}`,
    `\tys := [y | some y in ${list}]`,
    `\tcount(ys) ${c.pick(['==', '>=', '<'])} ${c.pick(['1', '2'])}`,
    '\ty == "a"',
    '}',
  );
};

/** Equality of collections of different kinds, as a value (OPA compiles `r := {1} == [1]`: false). */
const collectionEquality: Fragment = (c) => {
  const x = c.in(['x'], [1, 'a', raw('1.0'), [1], null]);
  const y = c.in(['y'], [1, 'a', raw('1.0'), [1], null]);
  const shapes: Array<() => string> = [
    () => `${c.define(c.fresh('set_eq'), 'value')} := {1} == [1]`,
    () => `${c.define(c.fresh('set_eq'), 'value')} := {${x}} == [${y}]`,
    () => `${c.define(c.fresh('set_eq'), 'value')} := {${x}} == {${y}}`,
    () => `${c.define(c.fresh('obj_eq'), 'value')} := {"a": 1} == {"a": 1.0}`,
    () => `${c.define(c.fresh('arr_eq'), 'value')} := [${x}] == [${y}]`,
  ];
  const k = 1 + c.int(3);
  for (let i = 0; i < k; i++) c.emit(c.pick(shapes)());
};

const everyFrag: Fragment = (c) => {
  if (c.chance(0.5)) {
    const roles = c.in(['roles'], roleLists());
    c.emit(`${c.define(c.fresh('all_app'), 'bool')} if {`, `\tevery r in ${roles} {`, '\t\tstartswith(r, "app.")', '\t}', '}');
  } else {
    const limits = c.in(['limits'], [{ a: 1, b: 2 }, { a: 0 }, {}, [1, 2], [0], 'x', null, { a: 'x' }, { a: raw('1e-400') }]);
    c.emit(`${c.define(c.fresh('all_pos'), 'bool')} if {`, `\tevery k, v in ${limits} {`, `\t\tv > ${c.pick(['0', '-0', '0.5'])}`, '\t\tk != "z"', '\t}', '}');
  }
};

/** Comparisons and arithmetic on numbers; `exact`: with literals no double holds (and inputs holding such numbers). */
const numericOf = (exact: boolean): Fragment => (c) => {
  if (exact) c.exact = true;
  const lit = (): string => (exact && c.chance(0.6) ? c.pick(EXACT_TEXTS) : c.pick(NUM_LITERALS));
  const n = c.in(['n'], NUMBERS);
  const a = c.in(['a'], NUMBERS);
  const b = c.in(['b'], NUMBERS);
  const ops = ['==', '!=', '<', '<=', '>', '>='];
  const shapes: Array<() => string> = [
    () => `${c.define(c.fresh('num_cmp'), 'bool')} if ${n} ${c.pick(ops)} ${lit()}`,
    () => `${c.define(c.fresh('lit_cmp'), 'bool')} if ${lit()} ${c.pick(ops)} ${lit()}`,
    () => `${c.define(c.fresh('lit_val'), 'value')} := ${lit()}`,
    () => `${c.define(c.fresh('lit_sum'), 'value')} := ${lit()} ${c.pick(['+', '-', '*'])} ${lit()}`,
    () => `${c.define(c.fresh('sum'), 'value')} := ${a} + ${b}`,
    () => `${c.define(c.fresh('sum_ok'), 'bool')} if ${a} + ${b} == ${c.pick(['0.3', '3', '9007199254740993', '0'])}`,
    () => `${c.define(c.fresh('n_plus'), 'value')} := ${n} ${c.pick(['+', '-', '*'])} ${c.pick(['1', '0.1', '1.0', '9007199254740993'])}`,
    () => `${c.define(c.fresh('n_val'), 'value')} := ${n}`,
    () => `${c.define(c.fresh('in_range'), 'bool')} if { ${n} >= 0; ${n} <= ${exact ? c.pick(['100.0000000000000001', '1e-400']) : '100'} }`,
    () => `${c.define(c.fresh('nums'), 'value')} := {${lit()}, ${lit()}, ${lit()}}`,
    () => `${c.define(c.fresh('n_key'), 'value')} := {${lit()}: "a"}[${n}]`,
  ];
  const k = 1 + c.int(3);
  for (let i = 0; i < k; i++) c.emit(c.pick(shapes)());
};
const numeric = numericOf(false);
const numericExact = numericOf(true);

/**
 * Ordering across kinds: OPA orders objects before sets (regorus the other
 * way), at the top and inside collections; `sort`, `max` and `min` follow
 * the same order. Inputs of every kind meet collection literals.
 */
const ordering: Fragment = (c) => {
  const values: GenValue[] = [{}, { a: 1 }, [], [1], ['a'], 'x', 1, null, true, [{}], [{ a: 1 }], { a: [] }];
  const x = c.in(['x'], values);
  const y = c.in(['y'], values);
  const lits = ['{"a"}', 'set()', '{1, 2}', '{"a": 1}', '{}', '[{"a"}]', '[{}]', '[set()]', '[1, {"a"}]', '"x"', '1', '[]'];
  const ops = ['<', '<=', '>', '>='];
  const shapes: Array<() => string> = [
    () => `${c.define(c.fresh('ord_lit'), 'bool')} if ${x} ${c.pick(ops)} ${c.pick(lits)}`,
    () => `${c.define(c.fresh('ord_in'), 'bool')} if ${x} ${c.pick(ops)} ${y}`,
    () => `${c.define(c.fresh('ord_val'), 'value')} := ${c.pick(lits)} ${c.pick(ops)} ${x}`,
    () => `${c.define(c.fresh('sorted'), 'value')} := sort([${x}, ${c.pick(lits)}, ${c.pick(lits)}])`,
    () => `${c.define(c.fresh('greatest'), 'value')} := max([${x}, ${c.pick(lits)}])`,
    () => `${c.define(c.fresh('least'), 'value')} := min({${x}, ${c.pick(lits)}})`,
  ];
  const k = 1 + c.int(3);
  for (let i = 0; i < k; i++) c.emit(c.pick(shapes)());
};

/**
 * Builtins whose index or length operands must be integers (OPA's
 * `IntOperand`): a non-integer is an error there. regorus's `substring`
 * answered `""` and its `array.slice` undefined, so `substring(s, 1.5, 1)
 * == ""` and `not array.slice(...)` held where OPA raises. Integers,
 * integral doubles, fractions, negatives and huge values meet each.
 */
const intArgs: Fragment = (c) => {
  const ints: GenValue[] = [0, 1, 2, 5, -1, -3, 1.5, 0.5, 1e30, -0.5, '1', null, raw('2.0'), raw('1e2'), raw('1.0E7'), raw('-0'), raw('9007199254740993')];
  const text = c.in(['s'], ['abcdef', 'héllo', '😀a😀', '', 'group:eng', 7]);
  const arr = c.in(['a'], [[1, 2, 3, 4], [], ['x'], 'abc', { a: 1 }]);
  const i = c.in(['i'], ints);
  const j = c.in(['j'], ints);
  const shapes: Array<() => string> = [
    () => `${c.define(c.fresh('sub'), 'value')} := substring(${text}, ${i}, ${j})`,
    () => `${c.define(c.fresh('sub_empty'), 'bool')} if substring(${text}, ${i}, ${c.pick(['1', '-1', '0'])}) == ""`,
    () => `${c.define(c.fresh('sub_lit'), 'value')} := substring(${str(c.pick(['abc', 'héllo', '😀a😀']))}, ${c.pick(['0', '1', '2', '5'])}, ${j})`,
    () => `${c.define(c.fresh('sliced'), 'value')} := array.slice(${arr}, ${i}, ${j})`,
    () => `${c.define(c.fresh('no_slice'), 'bool')} if not array.slice(${arr}, ${i}, ${c.pick(['2', '9'])})`,
    () => `${c.define(c.fresh('slice_empty'), 'bool')} if count(array.slice(${arr}, ${i}, ${j})) == 0`,
  ];
  const k = 1 + c.int(3);
  for (let n = 0; n < k; n++) c.emit(c.pick(shapes)());
};

/**
 * Builtins whose edge arguments regorus answered where OPA raises or
 * answers otherwise (found by a sweep against `opa eval`): an empty search
 * text for `indexof`/`indexof_n`, overlapping `strings.count`, `to_number`
 * of padded or non-JSON texts, `ceil`/`floor` between -1 and 0, bad
 * escapes in `urlquery.decode`.
 */
const edgeBuiltins: Fragment = (c) => {
  const text = c.in(['s'], ['abab', 'aaaa', 'héllo', '', 'a%20b', '%zz', '100%', ' 1', '1', '-0.5', '1e2', '+1', '0x10', 7, null]);
  const search = c.in(['t'], ['a', 'aa', '', 'l', 'x', 1]);
  const x = c.in(['x'], [-0.5, -1.5, 0.5, 2, -0.1, 0, '1', null]);
  const shapes: Array<() => string> = [
    () => `${c.define(c.fresh('idx'), 'value')} := indexof(${text}, ${search})`,
    () => `${c.define(c.fresh('found'), 'bool')} if indexof(${text}, ${search}) >= 0`,
    () => `${c.define(c.fresh('idxs'), 'value')} := indexof_n(${text}, ${search})`,
    () => `${c.define(c.fresh('cnt'), 'value')} := strings.count(${text}, ${search})`,
    () => `${c.define(c.fresh('many'), 'bool')} if strings.count(${text}, ${search}) > 1`,
    () => `${c.define(c.fresh('num'), 'value')} := to_number(${text})`,
    () => `${c.define(c.fresh('positive'), 'bool')} if to_number(${text}) > 0`,
    () => `${c.define(c.fresh('up'), 'value')} := ceil(${x})`,
    () => `${c.define(c.fresh('below_one'), 'bool')} if ceil(${x}) < 1`,
    () => `${c.define(c.fresh('down'), 'value')} := floor(${x})`,
    () => `${c.define(c.fresh('negative'), 'bool')} if floor(${x}) < 0`,
    () => `${c.define(c.fresh('decoded'), 'value')} := urlquery.decode(${text})`,
  ];
  const k = 1 + c.int(3);
  for (let n = 0; n < k; n++) c.emit(c.pick(shapes)());
};

const unicode: Fragment = (c) => {
  const name = c.in(c.pick([['name'], ['user', 'name']]), [...UNICODE, null, 5, ['admin']]);
  const lits = ['admin', 'ADMIN', 'straße', 'STRASSE', 'STRAßE', 'σας', 'σασ', 'i\u0307', 'i', 'ΣΑΣ'];
  const shapes: Array<() => string> = [
    () => `${c.define(c.fresh('low'), 'value')} := lower(${name})`,
    () => `${c.define(c.fresh('up'), 'value')} := upper(${name})`,
    () => `${c.define(c.fresh('is_admin_ci'), 'bool')} if lower(${name}) == ${str(c.pick(lits))}`,
    () => `${c.define(c.fresh('upper_is'), 'bool')} if upper(${name}) == ${str(c.pick(lits))}`,
    () => `${c.define(c.fresh('len'), 'value')} := count(${name})`,
    () => `${c.define(c.fresh('short'), 'bool')} if count(${name}) <= ${c.pick(['1', '2', '3'])}`,
    () => `${c.define(c.fresh('sw'), 'bool')} if startswith(${name}, ${str(c.pick(['ad', 'AD', 'st', 'Σ', '😀', 'e', 'i']))})`,
    () => `${c.define(c.fresh('ew'), 'bool')} if endswith(${name}, ${str(c.pick(['ße', 'SS', 'ς', 'Σ', '😀', '\u0301', 'N']))})`,
    () => `${c.define(c.fresh('ct'), 'bool')} if contains(${name}, ${str(c.pick(['İ', 'ß', '😀', 'Α', 'e\u0301', '']))})`,
    () => `${c.define(c.fresh('lit_case'), 'value')} := ${c.pick(['lower', 'upper'])}(${str(c.pick(UNICODE))})`,
    () => `${c.define(c.fresh('lit_len'), 'value')} := count(${str(c.pick(UNICODE))})`,
    () => `${c.define(c.fresh('trimmed'), 'value')} := trim_space(${name})`,
  ];
  const k = 1 + c.int(3);
  for (let i = 0; i < k; i++) c.emit(c.pick(shapes)());
};

const glob: Fragment = (c) => {
  const s = c.in(c.pick([['s'], ['host'], ['resource', 'path']]), [...GLOB_TEXTS, null, 3]);
  const patterns: Array<[string, string]> = [
    ['a:*', '[":"]'],
    ['a:*', 'null'],
    ['a.*', 'null'],
    ['a.*', '[]'],
    ['a*', '[]'],
    ['a*', '["."]'],
    ['*.example.com', '["."]'],
    ['*.example.com', '[]'],
    ['api/**', '["/"]'],
    ['api/*', '["/"]'],
    ['a?b', 'null'],
    ['a[.:]b', '[]'],
    ['{a,b}:*', '[":"]'],
    ['a:**', '[":", "."]'],
    ['*', '[":"]'],
    ['**', '[]'],
  ];
  const k = 1 + c.int(3);
  for (let i = 0; i < k; i++) {
    const [p, d] = c.pick(patterns);
    const shape = c.int(4);
    if (shape < 2) c.emit(`${c.define(c.fresh('gl'), 'value')} := glob.match(${str(p)}, ${d}, ${s})`);
    else if (shape === 2) c.emit(`${c.define(c.fresh('glm'), 'bool')} if glob.match(${str(p)}, ${d}, ${s})`);
    else c.emit(`${c.define(c.fresh('gllit'), 'value')} := glob.match(${str(p)}, ${d}, ${str(c.pick(GLOB_TEXTS))})`);
  }
};

const regex: Fragment = (c) => {
  const s = c.in(c.pick([['s'], ['text']]), [...REGEX_TEXTS, null, 3]);
  const patterns = ['^\\d+$', '\\d', '^\\w+$', '\\w', '\\s', '^\\S+$', '\\bfoo\\b', '\\Bfoo', '^[[:alpha:]]+$', '^\\p{L}+$', '(?i)^ADMIN$', '^.$', '^..$', '^[a-z]+$'];
  const k = 1 + c.int(3);
  for (let i = 0; i < k; i++) {
    const p = c.pick(patterns);
    const lit = c.chance(0.5) ? `\`${p}\`` : str(p);
    const shape = c.int(4);
    if (shape < 2) c.emit(`${c.define(c.fresh('rx'), 'value')} := regex.match(${lit}, ${s})`);
    else if (shape === 2) c.emit(`${c.define(c.fresh('rxm'), 'bool')} if regex.match(${lit}, ${s})`);
    else c.emit(`${c.define(c.fresh('rxlit'), 'value')} := regex.match(${lit}, ${str(c.pick(REGEX_TEXTS))})`);
  }
};

const dataKeys: Fragment = (c) => {
  const perms = c.dat('perms', { '3': true, '3.0': 'float key', x: false, '-0': 'minus zero', '0': 'zero', '9007199254740993': 'big' });
  const list = c.dat('list', ['a', 'b', 'c']);
  const n = c.in(['n'], [3, raw('3.0'), 0, raw('-0'), '3', 1, raw('9007199254740993'), 9007199254740992, null]);
  const shapes: Array<() => string> = [
    () => `${c.define(c.fresh('p3'), 'value')} := ${perms}[3]`,
    () => `${c.define(c.fresh('p3f'), 'value')} := ${perms}[3.0]`,
    () => `${c.define(c.fresh('p3s'), 'value')} := ${perms}["3"]`,
    () => `${c.define(c.fresh('p0'), 'value')} := ${perms}[${c.pick(['0', '-0', '0.0', '9007199254740993'])}]`,
    () => `${c.define(c.fresh('pn'), 'value')} := ${perms}[${n}]`,
    () => `${c.define(c.fresh('pn_ok'), 'bool')} if ${perms}[${n}]`,
    () => `${c.define(c.fresh('l1'), 'value')} := ${list}[${c.pick(['1', '1.0', '-0', '"1"'])}]`,
    () => `${c.define(c.fresh('ln'), 'value')} := ${list}[${n}]`,
    () => `${c.define(c.fresh('lit_key'), 'value')} := {"3": "s", 3: "n"}[${c.pick(['3', '3.0', '"3"'])}]`,
  ];
  const k = 1 + c.int(3);
  for (let i = 0; i < k; i++) c.emit(c.pick(shapes)());
};

const objectGet: Fragment = (c) => {
  const user = c.in(['user'], [{ role: 'admin' }, { role: null }, {}, 'x', null, [1], { role: ['admin'] }]);
  c.in(['user', 'role'], ['admin', 'guest']);
  const shapes: Array<() => string> = [
    () => `${c.define(c.fresh('og'), 'value')} := object.get(input, ["user", "role"], "none")`,
    () => `${c.define(c.fresh('og'), 'value')} := object.get(${user}, "role", "guest")`,
    () => `${c.define(c.fresh('og_admin'), 'bool')} if object.get(${user}, "role", false) == "admin"`,
    () => `${c.define(c.fresh('og_path'), 'value')} := object.get(input, ${c.pick(['[]', '["user"]', '"user"', '["user", "role", "x"]'])}, null)`,
  ];
  const k = 1 + c.int(2);
  for (let i = 0; i < k; i++) c.emit(c.pick(shapes)());
};

const elseChain: Fragment = (c) => {
  const n = c.in(['n'], NUMBERS);
  const level = c.define(c.fresh('level'), 'value');
  // What `level` is compared with has the type of its values: OPA's type checker refuses `"high" == 1`.
  let compared: string;
  switch (c.int(3)) {
    case 0:
      c.emit(`${level} := "high" if {`, `\t${n} > 10`, '} else := "mid" if {', `\t${n} > 5`, '} else := "low"');
      compared = c.pick(['"high"', '"mid"', '"low"']);
      break;
    case 1:
      c.emit(`${level} := 1 if {`, `\t${condition(c)}`, '} else := 2 if {', `\t${condition(c)}`, '}');
      compared = c.pick(['1', '2', '1.0']);
      break;
    default:
      c.emit(`${level} if {`, `\t${condition(c)}`, '} else := false');
      compared = c.pick(['true', 'false']);
  }
  if (c.chance(0.5)) c.emit(`default ${level} := "none"`);
  c.emit(`${c.define(c.fresh(`${level}_ok`), 'bool')} if ${level} == ${compared}`);
};

const defaults: Fragment = (c) => {
  const name = c.define(c.fresh('allowed'), 'value');
  c.emit(`default ${name} := false`);
  c.emit(`${name} if {`, `\t${condition(c)}`, `\t${condition(c)}`, '}');
  if (c.chance(0.4)) c.emit(`${name} := ${c.pick(['true', '"yes"', '1'])} if ${condition(c)}`);
};

const combine: Fragment = (c) => {
  const bools = c.bools.filter((b) => b !== 'allow');
  if (bools.length === 0) return;
  const a = c.pick(bools);
  const b = c.pick(bools);
  const name = c.define(c.shared('allow', 'bool'), 'bool');
  c.emit(`${name} if {`, `\t${a}`, `\t${c.chance(0.5) ? 'not ' : ''}${b}`, '}');
  if (c.once('default allow') && c.chance(0.5) && name === 'allow') c.emit('default allow := false');
};

/**
 * Fragments OPA refuses at compile time (unsafe variables, type errors,
 * recursion, conflicting kinds of rules, ...), one of which is added to a
 * share of the policies when {@link GenOptions.invalidShare} is set: CoreSDK
 * must refuse those policies too.
 */
const INVALID: ReadonlyArray<readonly [string, Fragment]> = [
  ['unsafe-wildcard-under-not', (c) => {
    c.emit(`${c.define(c.fresh('not_banned_any'), 'bool')} if { not ${c.in(['roles'], roleLists())}[_] == "banned" }`);
  }],
  ['unsafe-var', (c) => {
    c.emit(`${c.define(c.fresh('unsafe'), 'bool')} if { x == ${c.in(['a'], [1, 'x'])} }`);
  }],
  ['type-mismatch', (c) => {
    c.emit(`${c.define(c.fresh('mismatch'), 'bool')} if { x := "a"; x == 1 }`);
  }],
  ['type-builtin-arg', (c) => {
    c.emit(`${c.define(c.fresh('lowered'), 'value')} := lower(${c.in(['n'], NUMBERS)} + 1)`);
  }],
  ['type-count-literal', (c) => {
    c.emit(`${c.define(c.fresh('counted'), 'value')} := count(${c.pick(['1', 'true', 'null'])})`);
  }],
  ['recursion', (c) => {
    const a = c.define(c.fresh('rec_a'), 'bool');
    const b = c.define(c.fresh('rec_b'), 'bool');
    c.emit(`${a} if ${b}`, `${b} if { ${a}; ${condition(c)} }`);
  }],
  ['two-defaults', (c) => {
    const n = c.define(c.fresh('dflt'), 'value');
    c.emit(`default ${n} := 1`, `default ${n} := 2`);
  }],
  ['reassigned-local', (c) => {
    c.emit(`${c.define(c.fresh('reassigned'), 'bool')} if { x := ${c.in(['a'], [1])}; x := 2 }`);
  }],
  ['undefined-function', (c) => {
    c.emit(`${c.define(c.fresh('calls_missing'), 'bool')} if no_such_function(${c.in(['a'], [1])})`);
  }],
  ['set-and-complete', (c) => {
    const n = c.define(c.fresh('mixed'), 'set');
    c.emit(`${n} contains 1 if ${condition(c)}`, `${n} := {2}`);
  }],
  ['arity', (c) => {
    const f = c.fresh('one_arg');
    c.define(f, 'func');
    c.emit(`${f}(x) := x`, `${c.define(c.fresh('arity'), 'value')} := ${f}(1, 2)`);
  }],
];

/**
 * Every fragment, by name, with its weight, and whether CoreSDK may refuse
 * it at load (`risky`: shapes regorus does not parse or refuses, such as
 * `{"admin"}[x]`, or that CoreSDK refuses on purpose, such as repeated
 * function parameters). A risky fragment makes a policy of its own, so that a
 * refusal does not take the other shapes of a policy with it.
 */
const FRAGMENTS: ReadonlyArray<readonly [string, Fragment, number, boolean]> = [
  ['rbac', rbac, 3, false],
  ['abac', abac, 2, false],
  ['deny-set', denySet, 3, false],
  ['multi-def', multiDef, 4, false],
  ['set-literal-ref', setLiteralRef, 1, true],
  ['iterating', iterating, 2, false],
  ['dotted', dotted, 2, false],
  ['some-shadow', someShadow, 2, true],
  ['repeated-params', repeatedParams, 2, true],
  ['functions', functions, 2, false],
  ['negation', negation, 3, false],
  ['member-value', memberValue, 2, false],
  ['comprehension', comprehensions, 3, false],
  ['comprehension-shadow', comprehensionShadow, 1, true],
  ['collection-equality', collectionEquality, 1, true],
  ['every', everyFrag, 2, false],
  ['numeric', numeric, 3, false],
  ['numeric-exact', numericExact, 2, true],
  ['unicode', unicode, 4, false],
  ['glob', glob, 3, false],
  ['regex', regex, 3, false],
  ['data-keys', dataKeys, 3, false],
  ['object-get', objectGet, 2, false],
  ['else', elseChain, 2, false],
  ['default', defaults, 2, false],
  ['ordering', ordering, 2, false],
  ['int-args', intArgs, 2, false],
  ['edge-builtins', edgeBuiltins, 2, false],
];

/** The fragments' names, for {@link GenOptions.fragments}. */
export const FRAGMENT_NAMES: readonly string[] = FRAGMENTS.map((f) => f[0]);

type FragmentEntry = (typeof FRAGMENTS)[number];

function pickFragment(c: Ctx, pool: readonly FragmentEntry[]): FragmentEntry {
  let x = c.r() * pool.reduce((s, f) => s + f[2], 0);
  for (const f of pool) {
    x -= f[2];
    if (x < 0) return f;
  }
  const last = pool[pool.length - 1];
  if (last === undefined) throw new Error('no fragments');
  return last;
}

function fragmentPool(only: readonly string[] | undefined): readonly FragmentEntry[] {
  if (only === undefined || only.length === 0) return FRAGMENTS;
  const unknown = only.filter((n) => !FRAGMENT_NAMES.includes(n));
  if (unknown.length > 0) throw new Error(`unknown fragments ${unknown.join(', ')} (known: ${FRAGMENT_NAMES.join(', ')})`);
  return FRAGMENTS.filter((f) => only.includes(f[0]));
}

// ---------------------------------------------------------------------------
// Inputs

function isObject(v: GenValue | undefined): v is { [key: string]: GenValue } {
  return v !== null && v !== undefined && typeof v === 'object' && !Array.isArray(v) && !(v instanceof RawNumber);
}

/** Sets `path` in `root` unless a value on the way is not an object. */
function setPath(root: { [key: string]: GenValue }, path: readonly string[], value: GenValue): void {
  let o = root;
  for (let i = 0; i < path.length - 1; i++) {
    const k = path[i] as string;
    const next = o[k];
    if (next === undefined) {
      const fresh: { [key: string]: GenValue } = {};
      o[k] = fresh;
      o = fresh;
    } else if (isObject(next)) {
      o = next;
    } else {
      return;
    }
  }
  o[path[path.length - 1] as string] = value;
}

/** A deep copy: pooled values are shared, and {@link setPath} writes into the objects it meets. */
function clone(v: GenValue): GenValue {
  if (v === null || typeof v !== 'object' || v instanceof RawNumber) return v;
  if (Array.isArray(v)) return v.map(clone);
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, clone(x)]));
}

function genInput(c: Ctx): GenValue {
  const r = c.int(40);
  if (r === 0) return {};
  // Not `null`: OPA reads `{"input": null}` as no input at all.
  if (r === 1) return clone(c.pick([[], 'x', 3]));
  const input: { [key: string]: GenValue } = {};
  const fields = [...c.fields.values()];
  const usable = (vs: readonly GenValue[]): readonly GenValue[] => {
    if (c.exact) return vs;
    const plain = vs.filter((v) => !isExact(v));
    return plain.length > 0 ? plain : [null];
  };
  for (const f of fields) {
    const x = c.r();
    if (x < 0.6) setPath(input, f.path, clone(c.pick(usable(f.values))));
    else if (x < 0.78) continue;
    else setPath(input, f.path, clone(c.pick(usable(c.chance(0.3) ? NUMBERS : ODD))));
  }
  // Now and then a parent of a field becomes a scalar, or an unrelated key appears.
  if (c.chance(0.1) && fields.length > 0) {
    const f = c.pick(fields);
    if (f.path.length > 1) setPath(input, f.path.slice(0, 1), clone(c.pick(ODD)));
  }
  if (c.chance(0.1)) input.extra = clone(c.pick(ODD));
  return input;
}

/** A 32-bit seed for case `index` of a run seeded with `seed`. */
function caseSeed(seed: number, index: number): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  h = Math.imul(h ^ (index + 0x7f4a7c15), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * Generates case `index` of the run seeded with `seed`: the same policy,
 * data and inputs for the same (seed, index, options).
 */
export function generateCase(seed: number, index: number, options: GenOptions = {}): GenCase {
  const r = rng(caseSeed(seed, index));
  const id = `c${index}`;
  const c = new Ctx(r, `data.d.${id}`);
  const min = options.minFragments ?? 2;
  const max = options.maxFragments ?? 5;
  const n = min + c.int(max - min + 1);
  const pool = fragmentPool(options.fragments);
  for (let k = 0; k < n; k++) {
    let [name, frag, , risky] = pickFragment(c, pool);
    // A risky fragment only as the first, and then alone; later picks skip risky ones (bounded).
    for (let tries = 0; risky && k > 0 && tries < 20; tries++) [name, frag, , risky] = pickFragment(c, pool);
    if (risky && k > 0) continue;
    c.shapes.push(name);
    frag(c);
    if (risky) break;
  }
  if (c.chance(0.5)) {
    c.shapes.push('combine');
    combine(c);
  }
  if ((options.invalidShare ?? 0) > 0 && c.chance(options.invalidShare ?? 0)) {
    const [name, frag] = c.pick(INVALID);
    c.shapes.push(`invalid:${name}`);
    frag(c);
  }
  const pkg = `gen.${id}`;
  const header = c.chance(0.3) ? `package ${pkg}\n\nimport rego.v1\n\n` : `package ${pkg}\n\n`;
  const source = header + c.lines.join('\n');
  const rules: GenRule[] = [];
  for (const [name, kind] of c.rules) {
    if (kind === 'func') continue;
    rules.push({ name, query: `data.${pkg}.${name}`, isSet: kind === 'set' });
  }
  const count = options.inputs ?? 8;
  const inputs: GenValue[] = [];
  for (let k = 0; k < count; k++) inputs.push(genInput(c));
  return { id, seed, index, pkg, dataPath: ['d', id], source, data: c.data, rules, inputs, shapes: c.shapes };
}
