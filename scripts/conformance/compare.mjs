// Result comparison with OPA's value semantics, for JSON-shaped values.
//
// OPA's runner (v1/topdown/exported_test.go, testAssertResultSet) turns both
// the expected bindings and the actual ones into an ast.Set of objects and
// compares the sets: result order never matters and duplicate results
// collapse. Values are compared as Rego values: numbers numerically (1 == 1.0),
// objects by key. A Rego set reaches JSON as an array in OPA's sort order, so
// an expected array that is strictly sorted in OPA order may have been a set;
// such arrays match any permutation of equal elements (regorus orders set
// members by its own ordering, which differs from OPA's for mixed types).
// A match that needed this leniency is reported as `unordered`.
// With sort_bindings OPA sorts each actual binding value (util.Compare) first.

const rank = (v) => {
  if (v === null || v === undefined) return 0;
  switch (typeof v) {
    case 'boolean':
      return 1;
    case 'number':
    case 'bigint':
      return 2;
    case 'string':
      return 3;
    default:
      return Array.isArray(v) ? 4 : 5;
  }
};

/** Compares strings by code point, i.e. in UTF-8 byte order, as Go does. */
export function compareStrings(a, b) {
  if (a === b) return 0;
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const x = ia.next();
    const y = ib.next();
    if (x.done || y.done) return x.done && y.done ? 0 : x.done ? -1 : 1;
    const cx = x.value.codePointAt(0);
    const cy = y.value.codePointAt(0);
    if (cx !== cy) return cx < cy ? -1 : 1;
  }
}

function compareNumbers(a, b) {
  // bigint and number compare numerically with < and == in JS.
  if (a == b) return 0;
  return a < b ? -1 : 1;
}

/** OPA's util.Compare over JSON values: null < bool < number < string < array < object. */
export function opaCompare(a, b) {
  const ra = rank(a);
  const rb = rank(b);
  if (ra !== rb) return ra < rb ? -1 : 1;
  switch (ra) {
    case 0:
      return 0;
    case 1:
      return a === b ? 0 : a ? 1 : -1;
    case 2:
      return compareNumbers(a, b);
    case 3:
      return compareStrings(a, b);
    case 4: {
      const n = Math.min(a.length, b.length);
      for (let i = 0; i < n; i++) {
        const c = opaCompare(a[i], b[i]);
        if (c !== 0) return c;
      }
      return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
    }
    default: {
      const ka = Object.keys(a).sort(compareStrings);
      const kb = Object.keys(b).sort(compareStrings);
      const n = Math.min(ka.length, kb.length);
      for (let i = 0; i < n; i++) {
        const kc = compareStrings(ka[i], kb[i]);
        if (kc !== 0) return kc;
        const c = opaCompare(a[ka[i]], b[kb[i]]);
        if (c !== 0) return c;
      }
      return ka.length === kb.length ? 0 : ka.length < kb.length ? -1 : 1;
    }
  }
}

/** True when `arr` is strictly ascending in OPA order, as a set serializes. */
export function looksLikeSet(arr) {
  for (let i = 1; i < arr.length; i++) if (opaCompare(arr[i - 1], arr[i]) >= 0) return false;
  return true;
}

/**
 * Structural equality with Rego semantics. With `unorderedSets`, an expected
 * array that looksLikeSet matches any permutation. `state.unordered` is set to
 * true when a match relied on that.
 */
export function valueEqual(exp, got, { unorderedSets = true, state = {} } = {}) {
  const re = rank(exp);
  if (re !== rank(got)) return false;
  switch (re) {
    case 0:
      return true;
    case 1:
      return exp === got;
    case 2:
      return compareNumbers(exp, got) === 0;
    case 3:
      return exp === got;
    case 4: {
      if (exp.length !== got.length) return false;
      const inner = { unordered: false };
      let ordered = true;
      for (let i = 0; i < exp.length; i++) {
        if (!valueEqual(exp[i], got[i], { unorderedSets, state: inner })) {
          ordered = false;
          break;
        }
      }
      if (ordered) {
        if (inner.unordered) state.unordered = true;
        return true;
      }
      if (!unorderedSets || exp.length < 2 || !looksLikeSet(exp)) return false;
      const used = new Array(got.length).fill(false);
      for (const e of exp) {
        let found = -1;
        for (let j = 0; j < got.length; j++) {
          if (!used[j] && valueEqual(e, got[j], { unorderedSets, state })) {
            found = j;
            break;
          }
        }
        if (found < 0) return false;
        used[found] = true;
      }
      state.unordered = true;
      return true;
    }
    default: {
      const ke = Object.keys(exp);
      const kg = Object.keys(got);
      if (ke.length !== kg.length) return false;
      for (const k of ke) {
        if (!Object.prototype.hasOwnProperty.call(got, k)) return false;
        if (!valueEqual(exp[k], got[k], { unorderedSets, state })) return false;
      }
      return true;
    }
  }
}

function dedupe(list) {
  const out = [];
  for (const v of list) if (!out.some((o) => valueEqual(o, v, { unorderedSets: false }))) out.push(v);
  return out;
}

/**
 * Normalizes actual bindings as OPA's runner does: drop generated vars when
 * asked, sort binding values when sort_bindings.
 */
export function normalizeActual(results, { sortBindings = false, ignoreGeneratedVars = false } = {}) {
  return results.map((b) => {
    const out = {};
    for (const [k, v] of Object.entries(b ?? {})) {
      if (ignoreGeneratedVars && k.startsWith('__localq')) continue;
      out[k] = sortBindings && Array.isArray(v) ? [...v].sort(opaCompare) : v;
    }
    return out;
  });
}

/**
 * Compares expected and actual result sets (arrays of bindings objects).
 * Returns { equal, unordered } where unordered means the match needed
 * order-insensitive comparison of set-like arrays.
 */
export function compareResultSets(expected, actual, opts = {}) {
  const exp = dedupe(expected.map((b) => (opts.sortBindings ? sortValues(b) : b)));
  const got = dedupe(normalizeActual(actual, opts));
  if (exp.length !== got.length) return { equal: false, unordered: false };
  // Try strict (ordered) first, then lenient.
  for (const unorderedSets of [false, true]) {
    const state = { unordered: false };
    const used = new Array(got.length).fill(false);
    let ok = true;
    for (const e of exp) {
      const j = got.findIndex((g, idx) => !used[idx] && valueEqual(e, g, { unorderedSets, state }));
      if (j < 0) {
        ok = false;
        break;
      }
      used[j] = true;
    }
    if (ok) return { equal: true, unordered: unorderedSets && state.unordered };
  }
  return { equal: false, unordered: false };
}

function sortValues(b) {
  const out = {};
  for (const [k, v] of Object.entries(b ?? {})) out[k] = Array.isArray(v) ? [...v].sort(opaCompare) : v;
  return out;
}

/** Stable, readable rendering for reports (objects with sorted keys). */
export function show(v, max = 400) {
  const s = JSON.stringify(v, (_k, x) => {
    if (typeof x === 'bigint') return `${x}n`;
    if (x && typeof x === 'object' && !Array.isArray(x)) {
      return Object.fromEntries(Object.keys(x).sort(compareStrings).map((k) => [k, x[k]]));
    }
    return x;
  });
  if (s === undefined) return 'undefined';
  return s.length > max ? s.slice(0, max) + '…' : s;
}
