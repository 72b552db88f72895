/**
 * CoreSDK: token verification, Rego policy decisions and telemetry hygiene
 * one call away.
 *
 * @example
 * ```ts
 * import { Engine } from 'coresdk';
 * const engine = Engine.fromEnv(); // CORESDK_POLICY_DIR or coresdk.toml
 * if (engine.isAllowedSync('data.authz.allow', { user, action, resource })) {
 *   // ...
 * }
 * ```
 *
 * @packageDocumentation
 */
export { Engine } from './engine.js';
export type {
  AuthorizeRequest,
  AuthorizeResult,
  Decision,
  DecisionCacheStats,
  FastPathPlan,
  FastPathStats,
  EngineOptions,
  KeyStatus,
  ReloadEvent,
  ReloadListener,
  TokenOptions,
  Verdict,
  VerdictReason,
} from './engine.js';
export { CoreSDKError } from './errors.js';
export type { CoreSDKErrorCode, SourceLocation } from './errors.js';
export { SidecarServer } from './sidecar/server.js';
export type {
  DrainReport,
  SidecarEvent,
  SidecarServerOptions,
  SidecarStatus,
  SidecarTenantStatus,
  DataPlaneTelemetryOptions,
} from './sidecar/server.js';
export { sidecarErrorInfo, SIDECAR_ERROR_DOMAIN } from './grpc/status-details.js';
export type { MetadataLike, SidecarErrorInfo } from './grpc/status-details.js';
export { CoreSDKClient, isTransportFailure } from './client/client.js';
export type { BatchResult, CallOptions, ClientAuthorizeResult, ClientStats, SDKConfig } from './client/client.js';
export type { ClientTlsOptions } from './client/sidecar-transport.js';
export type { BreakerOptions, BreakerState } from './client/breaker.js';
export { problem, PROBLEM_TYPE_BASE, traceIdOf } from './http/problem.js';
export type { ProblemDetails, ProblemKind, ProblemResponse } from './http/problem.js';
export { bearerFromRawHeaders } from './http/bearer.js';
export type { BearerCredentials } from './http/bearer.js';
export { Masker, PII_ENTITIES } from './pii/masker.js';
export type { MaskerOptions, PiiEntity } from './pii/masker.js';
export { PiiMaskingSpanProcessor } from './otel/pii-span-processor.js';
export { setupTelemetry } from './otel/setup.js';
export type { Telemetry, TelemetryOptions } from './otel/setup.js';
export { DecisionLog, decisionLog, setDecisionLog, MAX_LOGGED_INPUT_BYTES } from './otel/decision-log.js';
export type { DecisionLogMode, DecisionLogOptions, DecisionRecord } from './otel/decision-log.js';
export { otlpConfigured, otlpProtocol } from './otel/exporters.js';
export type { OtlpProtocol } from './otel/exporters.js';
export { authzInstruments, DURATION_BOUNDARIES } from './otel/instruments.js';
export type { AuthzInstruments } from './otel/instruments.js';
export { parseEngineJson, toJsonText } from './json-values.js';
export type { PolicyValue } from './json-values.js';
export { checkPolicies, testPolicies } from './policy-test.js';
export type {
  PolicyCheck,
  PolicyDiagnostic,
  PolicyTestLocation,
  PolicyTestOptions,
  PolicyTestResult,
  PolicyTestRun,
  PolicyTestSubResult,
} from './policy-test.js';
