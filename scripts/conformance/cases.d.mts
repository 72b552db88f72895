export declare const DEFAULT_OPA_VERSION: string;
export declare const OPA_MODULE: string;
export declare class CasesUnavailableError extends Error {}
export interface CasesLocation {
  casesDir: string;
  moduleDir: string | null;
  version: string;
  source: string;
}
export declare function locateCases(opts?: { version?: string; env?: NodeJS.ProcessEnv }): CasesLocation;
export interface ConformanceCase {
  id: string;
  file: string;
  folder: string;
  note: string;
  query: string;
  modules: string[];
  data: Record<string, unknown>;
  hasInput: boolean;
  input: unknown;
  inputTerm?: string;
  inputHasSet: boolean;
  wantResult?: Record<string, unknown>[];
  wantDefined?: boolean;
  wantErrorCode?: string;
  wantError?: string;
  expectError: boolean;
  bigIntInData: boolean;
  sortBindings: boolean;
  ignoreGeneratedVars: boolean;
  strictError: boolean;
  experimentalKeywords: boolean;
  env?: Record<string, string>;
  skip?: unknown;
  raw: Record<string, unknown>;
}
export declare function loadCases(casesDir: string): ConformanceCase[];
export declare function normalizeCase(raw: Record<string, unknown>, where: { id: string; file: string }): ConformanceCase;
export declare class RegoSet {
  items: unknown[];
}
export declare function parseRegoTerm(src: string): { value: unknown; hasSet: boolean };
export declare function smallIntsToNumbers(v: unknown): unknown;
export declare function hasBigInt(v: unknown): boolean;
