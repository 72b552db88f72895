// Unit checks of the conformance harness itself (no engine needed): the Rego
// term parser for `input_term`, OPA-style result comparison, query rewriting.
import { describe, expect, it } from 'vitest';
import { compareResultSets, looksLikeSet, opaCompare, valueEqual } from '../../scripts/conformance/compare.mjs';
import { normalizeCase, parseRegoTerm, RegoSet } from '../../scripts/conformance/cases.mjs';
import { errorKey, withInputQuery } from '../../scripts/conformance/run.mjs';

describe('parseRegoTerm', () => {
  it('parses JSON-compatible terms', () => {
    expect(parseRegoTerm('{"x": ["a", 1, 2.5, true, null]}')).toEqual({ value: { x: ['a', 1, 2.5, true, null] }, hasSet: false });
    expect(parseRegoTerm('1.0').value).toBe(1);
    expect(parseRegoTerm('"b"').value).toBe('b');
    expect(parseRegoTerm('{}').value).toEqual({});
  });
  it('accepts trailing commas, raw strings and comments', () => {
    expect(parseRegoTerm('{ "a": [1, 2,], "b": `x\\y`, # c\n }').value).toEqual({ a: [1, 2], b: 'x\\y' });
  });
  it('flags sets', () => {
    const r = parseRegoTerm('{ "graph": { "a": {"b", "c"}, "d": set(), }, "initial": {"a"} }');
    expect(r.hasSet).toBe(true);
    expect((r.value as { initial: unknown }).initial).toBeInstanceOf(RegoSet);
  });
  it('rejects garbage', () => {
    expect(() => parseRegoTerm('{"a": foo}')).toThrow();
  });
});

describe('normalizeCase', () => {
  it('lets input_term override input', () => {
    const c = normalizeCase({ note: 'n', query: 'data.a = x', input: { a: 1 }, input_term: '{"b": 2}', want_result: [] }, { id: 'f.yaml#n', file: 'dir/f.yaml' });
    expect(c.input).toEqual({ b: 2 });
    expect(c.folder).toBe('dir');
    expect(c.expectError).toBe(false);
  });
  it('keeps sets for a with-input rewrite', () => {
    const c = normalizeCase({ note: 'n', query: 'data.a = x', input_term: '{1}', want_error_code: 'eval_type_error' }, { id: 'i', file: 'f/x.yaml' });
    expect(c.inputHasSet).toBe(true);
    expect(c.input).toBeUndefined();
    expect(c.expectError).toBe(true);
  });
});

describe('OPA ordering', () => {
  it('orders by type then value', () => {
    const vals = [{ a: 1 }, [1], 'a', 2, 1, true, false, null];
    expect([...vals].sort(opaCompare)).toEqual([null, false, true, 1, 2, 'a', [1], { a: 1 }]);
  });
  it('compares strings by code point', () => {
    // U+FF5E sorts before U+1F600 in UTF-8, although its UTF-16 unit is larger than the surrogate's.
    expect(opaCompare('\uff5e', '\u{1f600}')).toBe(-1);
  });
  it('recognizes set-like arrays', () => {
    expect(looksLikeSet([1, 2, 'a'])).toBe(true);
    expect(looksLikeSet([2, 1])).toBe(false);
    expect(looksLikeSet([1, 1])).toBe(false);
  });
});

describe('compareResultSets', () => {
  it('ignores result order and duplicates', () => {
    expect(compareResultSets([{ x: 1 }, { x: 2 }], [{ x: 2 }, { x: 1 }, { x: 2 }]).equal).toBe(true);
    expect(compareResultSets([{ x: 1 }], [{ x: 1 }, { x: 2 }]).equal).toBe(false);
  });
  it('compares numbers numerically', () => {
    expect(compareResultSets([{ x: 1.0 }], [{ x: 1 }]).equal).toBe(true);
    expect(valueEqual(1, '1')).toBe(false);
  });
  it('treats undefined as no results', () => {
    expect(compareResultSets([], []).equal).toBe(true);
    expect(compareResultSets([], [{}]).equal).toBe(false);
    expect(compareResultSets([{}], [{}]).equal).toBe(true);
  });
  it('sorts binding values with sort_bindings', () => {
    expect(compareResultSets([{ x: [1, 2, 3] }], [{ x: [3, 1, 2] }], { sortBindings: true })).toEqual({ equal: true, unordered: false });
  });
  it('lets set-like arrays match permutations, and says so', () => {
    expect(compareResultSets([{ x: [1, [1], { a: 1 }] }], [{ x: [1, { a: 1 }, [1]] }])).toEqual({ equal: true, unordered: true });
    // not set-like (unsorted): order matters
    expect(compareResultSets([{ x: [2, 1] }], [{ x: [1, 2] }]).equal).toBe(false);
  });
  it('drops generated vars only when asked', () => {
    expect(compareResultSets([{ x: 1 }], [{ x: 1, __localq0__: 2 }], { ignoreGeneratedVars: true }).equal).toBe(true);
    expect(compareResultSets([{ x: 1 }], [{ x: 1, __localq0__: 2 }]).equal).toBe(false);
  });
  it('compares nested objects by key', () => {
    expect(compareResultSets([{ x: { a: [1], b: { c: null } } }], [{ x: { b: { c: null }, a: [1] } }]).equal).toBe(true);
    expect(compareResultSets([{ x: { a: 1 } }], [{ x: { a: 1, b: 2 } }]).equal).toBe(false);
  });
});

describe('runner helpers', () => {
  it('appends with input to each top-level expression', () => {
    expect(withInputQuery('data.a = x', '{1}')).toBe('data.a = x with input as {1}');
    expect(withInputQuery('data.a = x; f({"a;b": 1})', '{1}')).toBe('data.a = x with input as {1}; f({"a;b": 1}) with input as {1}');
  });
  it('groups error messages', () => {
    expect(errorKey('test-0.rego:3:5: error: `foo` is not a number 12\n  3 | p := foo')).toBe('`…` is not a number N');
  });
});
