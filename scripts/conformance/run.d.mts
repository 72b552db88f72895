import type { ConformanceCase } from './cases.mjs';
export declare const ROOT: string;
export declare const EXPECTED_PASS_FILE: string;
export declare const DOC_FILE: string;
export interface CaseResult {
  id: string;
  folder: string;
  status: 'pass' | 'fail' | 'skip';
  reason?: string;
  builtin?: string;
  category?: string;
  detail?: string;
  unordered?: boolean;
  note?: string;
  errorMatch?: { phase: string; code: string; messageMatched: boolean | null; codeMatched: boolean | null };
  ms?: number;
}
export interface EngineApi {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  Engine: new (opts: any) => { evaluatePolicySync(query: string, input?: unknown): unknown; close?(): void };
}
export declare function scanCase(c: ConformanceCase): { missingBuiltins: string[]; withFunctions: string[]; features: string[] };
export declare function errorKey(message: string): string;
export declare function withInputQuery(query: string, term: string): string;
export declare function runCase(c: ConformanceCase, api: EngineApi, opts?: { evalTimeoutMs?: number }): CaseResult;
export declare function runAll(
  cases: ConformanceCase[],
  api: EngineApi,
  opts?: { filter?: string; onProgress?: (r: CaseResult, n: number) => void; evalTimeoutMs?: number },
): CaseResult[];
export interface Summary {
  total: number;
  passed: number;
  failed: number;
  skipped: number;
  passedUnordered: number;
  passRate: number;
  passRateAll: number;
  [k: string]: unknown;
}
export declare function summarize(results: CaseResult[]): Summary;
export declare function formatSummary(s: Summary, meta: { opaVersion: string; regorusVersion: string }, opts?: { failures?: boolean; results?: CaseResult[] }): string;
export declare function renderMarkdown(s: Summary, meta: { opaVersion: string; regorusVersion: string; behindDisabledFeature?: string[]; results?: CaseResult[] }): string;
export declare function loadEngineApi(spec?: string): Promise<EngineApi>;
