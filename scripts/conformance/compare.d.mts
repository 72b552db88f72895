export declare function compareStrings(a: string, b: string): number;
export declare function opaCompare(a: unknown, b: unknown): number;
export declare function looksLikeSet(arr: unknown[]): boolean;
export declare function valueEqual(exp: unknown, got: unknown, opts?: { unorderedSets?: boolean; state?: { unordered?: boolean } }): boolean;
export interface CompareOptions {
  sortBindings?: boolean;
  ignoreGeneratedVars?: boolean;
}
export declare function normalizeActual(results: Record<string, unknown>[], opts?: CompareOptions): Record<string, unknown>[];
export declare function compareResultSets(
  expected: Record<string, unknown>[],
  actual: Record<string, unknown>[],
  opts?: CompareOptions,
): { equal: boolean; unordered: boolean };
export declare function show(v: unknown, max?: number): string;
