/**
 * Command-line flags of `coresdk-sidecar`, mapped onto the `CORESDK_*`
 * variables of the one configuration loader. Precedence: flag, then
 * environment variable, then `coresdk.toml`, then the built-in default.
 *
 * @internal
 * @packageDocumentation
 */
import { parseArgs } from 'node:util';

import { CoreSDKError } from '../errors.js';

/** Flags that set a `CORESDK_*` variable, with their help text. */
export const VALUE_FLAGS: ReadonlyArray<{ flag: string; variable: string; help: string }> = [
  { flag: 'addr', variable: 'CORESDK_SIDECAR_ADDR', help: 'listen address: [::1]:50051 (default), 127.0.0.1:50051 or unix:/path' },
  { flag: 'tenant', variable: 'CORESDK_TENANT_ID', help: 'default tenant for requests that name none (acme-corp)' },
  { flag: 'policy-dir', variable: 'CORESDK_POLICY_DIR', help: "the default tenant's policy bundle directory" },
  { flag: 'jwks-url', variable: 'CORESDK_JWKS_URL', help: "the default tenant's JWKS URL" },
  { flag: 'jwks-file', variable: 'CORESDK_JWKS_FILE', help: "the default tenant's JWKS file" },
  { flag: 'oidc-issuer', variable: 'CORESDK_OIDC_ISSUER', help: "the default tenant's OIDC issuer (discovery)" },
  { flag: 'audience', variable: 'CORESDK_AUDIENCE', help: 'accepted token audiences, comma-separated' },
  { flag: 'tls-cert', variable: 'CORESDK_SIDECAR_TLS_CERT_FILE', help: 'server certificate chain (PEM)' },
  { flag: 'tls-key', variable: 'CORESDK_SIDECAR_TLS_KEY_FILE', help: 'server private key (PEM)' },
  { flag: 'tls-client-ca', variable: 'CORESDK_SIDECAR_TLS_CLIENT_CA_FILE', help: 'CA that client certificates must chain to (PEM)' },
  { flag: 'health-addr', variable: 'CORESDK_SIDECAR_HEALTH_ADDR', help: 'plaintext health-only listener for probes, e.g. 0.0.0.0:50052' },
  { flag: 'drain-timeout-ms', variable: 'CORESDK_SIDECAR_DRAIN_TIMEOUT_MS', help: 'how long SIGTERM waits for calls in flight (10000)' },
  { flag: 'max-concurrent-calls', variable: 'CORESDK_SIDECAR_MAX_CONCURRENT_CALLS', help: 'calls served at once before RESOURCE_EXHAUSTED (1024)' },
  { flag: 'bundle-url', variable: 'CORESDK_BUNDLE_URL', help: "pull the default tenant's bundle from this URL (OPA bundle protocol) instead of --policy-dir" },
  { flag: 'bundle-verification-key', variable: 'CORESDK_BUNDLE_VERIFICATION_KEY_FILE', help: 'PEM public key bundle signatures (.signatures.json) must verify with' },
  { flag: 'bundle-key-id', variable: 'CORESDK_BUNDLE_KEY_ID', help: 'key id bundle signatures must name' },
  { flag: 'bundle-ca-file', variable: 'CORESDK_BUNDLE_CA_FILE', help: 'CA certificates (PEM) for the bundle server' },
  { flag: 'bundle-poll-min-secs', variable: 'CORESDK_BUNDLE_POLL_MIN_SECS', help: 'shortest wait between bundle polls (60)' },
  { flag: 'bundle-poll-max-secs', variable: 'CORESDK_BUNDLE_POLL_MAX_SECS', help: 'longest wait between bundle polls (120)' },
  { flag: 'offline-cache-dir', variable: 'CORESDK_OFFLINE_CACHE_DIR', help: 'HMAC-verified cache of the last good key set and bundle (needs CORESDK_OFFLINE_CACHE_KEY)' },
  { flag: 'authzen-addr', variable: 'CORESDK_SIDECAR_AUTHZEN_ADDR', help: 'serve the OpenID AuthZEN 1.0 API over HTTPS here, e.g. [::]:8443 (off by default)' },
  { flag: 'authzen-tls-cert', variable: 'CORESDK_SIDECAR_AUTHZEN_TLS_CERT_FILE', help: "AuthZEN server certificate (default: --tls-cert's)" },
  { flag: 'authzen-tls-key', variable: 'CORESDK_SIDECAR_AUTHZEN_TLS_KEY_FILE', help: "AuthZEN server key (default: --tls-key's)" },
  { flag: 'authzen-tls-client-ca', variable: 'CORESDK_SIDECAR_AUTHZEN_TLS_CLIENT_CA_FILE', help: "CA of AuthZEN client certificates (default: --tls-client-ca's)" },
  { flag: 'authzen-client-auth', variable: 'CORESDK_SIDECAR_AUTHZEN_CLIENT_AUTH', help: 'how AuthZEN clients authenticate: mtls (default) or api_key' },
  { flag: 'authzen-api-key-sha256', variable: 'CORESDK_SIDECAR_AUTHZEN_API_KEY_SHA256', help: 'accepted API keys as SHA-256 hex digests ([tenant:]digest, comma-separated)' },
  { flag: 'authzen-decision-query', variable: 'CORESDK_SIDECAR_AUTHZEN_DECISION_QUERY', help: 'the Rego query whose true permits (data.authzen.allow)' },
  { flag: 'authzen-context-query', variable: 'CORESDK_SIDECAR_AUTHZEN_CONTEXT_QUERY', help: 'a Rego query whose object becomes the response context' },
  { flag: 'authzen-search-subject-query', variable: 'CORESDK_SIDECAR_AUTHZEN_SEARCH_SUBJECT_QUERY', help: 'the rule answering subject searches (data.authzen.search_subjects)' },
  { flag: 'authzen-search-resource-query', variable: 'CORESDK_SIDECAR_AUTHZEN_SEARCH_RESOURCE_QUERY', help: 'the rule answering resource searches' },
  { flag: 'authzen-search-action-query', variable: 'CORESDK_SIDECAR_AUTHZEN_SEARCH_ACTION_QUERY', help: 'the rule answering action searches' },
  { flag: 'allowed-queries', variable: 'CORESDK_SIDECAR_ALLOWED_QUERIES', help: "queries clients may run: rule paths, prefixes (data.authz.*) or * (default: the bundle's rules)" },
];

/** Log levels the CLI accepts. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

/** What the command line asks for. */
export interface CliArgs {
  /** `--help`. */
  help: boolean;
  /** `--version`. */
  version: boolean;
  /** `--check`: validate and exit. */
  check: boolean;
  /** `--dev`: embedded development defaults. */
  dev: boolean;
  /** `--config`, else `CORESDK_CONFIG`, else `./coresdk.toml` when present. */
  configFile: string | undefined;
  /** Variables set by flags. */
  vars: Record<string, string>;
  /** pino level. */
  logLevel: (typeof LOG_LEVELS)[number];
}

/** The `--help` text. */
export function helpText(version: string): string {
  const rows = VALUE_FLAGS.map((f) => `  --${f.flag} <value>`.padEnd(34) + `${f.help}\n${' '.repeat(34)}(${f.variable})`);
  return `coresdk-sidecar ${version}: the CoreSDK data plane (gRPC over mutual TLS 1.3)

Usage: coresdk-sidecar [options]
       coresdk-sidecar test <path>... [options]   policy unit tests, as opa test runs them
       coresdk-sidecar check <dir> [options]      compile a bundle as it would load (file:line:col)
       (coresdk-sidecar test --help for their options; docs/policy-testing.md)

Serves coresdk.v1.CoreSDK and grpc.health.v1.Health on [::1]:50051 by default, and the
OpenID AuthZEN 1.0 API over HTTPS with --authzen-addr (docs/authzen.md).
Configuration: flags, then CORESDK_* variables, then coresdk.toml ([sdk],
[sidecar], [tenants.<id>]); see docs/configuration.md and docs/operations.md.

Options:
  -c, --config <file>             coresdk.toml to read (CORESDK_CONFIG)
${rows.join('\n')}
  --insecure-dev                  plaintext, no client certificates; loopback or unix socket only
                                  (CORESDK_SIDECAR_INSECURE_DEV)
  --dev                           development defaults: the example bundle, a development key set
                                  generated on first start, insecure-dev on loopback, and AuthZEN
                                  over plaintext HTTP on [::1]:50080 (a free port when --addr is
                                  given; --authzen-addr to choose)
  --log-level <level>             ${LOG_LEVELS.join(', ')} (default info; CORESDK_LOG_LEVEL)
  --check                         validate the configuration and exit
  -h, --help                      show this help
  -V, --version                   show the version

Telemetry: with OTEL_EXPORTER_OTLP_ENDPOINT set, every call's span (in the caller's
trace, from its traceparent), the decision metrics and the decision log are recorded in
the data plane, masked, and exported over OTLP. Also read: OTEL_EXPORTER_OTLP_PROTOCOL
(http/protobuf or grpc), OTEL_SERVICE_NAME (default coresdk-sidecar), OTEL_TRACES_SAMPLER
and _ARG, OTEL_METRIC_EXPORT_INTERVAL, OTEL_SDK_DISABLED, CORESDK_DECISION_LOG
(off, decisions, input). See docs/telemetry.md.

Signals: SIGTERM and SIGINT drain (health NOT_SERVING, in-flight calls answered) and
exit 0; a second one (a second or more later) exits at once. SIGHUP reloads policies and certificates.
Exit codes: 0 clean stop, 1 drain deadline passed with calls in flight,
2 invalid configuration or failed start.
`;
}

/** Parses argv (without `node` and the script). Throws `ERR_CONFIG` naming the flag. */
export function parseCliArgs(argv: string[], env: NodeJS.ProcessEnv): CliArgs {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {
    config: { type: 'string', short: 'c' },
    'insecure-dev': { type: 'boolean' },
    dev: { type: 'boolean' },
    check: { type: 'boolean' },
    'log-level': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
    version: { type: 'boolean', short: 'V' },
  };
  for (const f of VALUE_FLAGS) options[f.flag] = { type: 'string' };
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: argv, options, strict: true, allowPositionals: false }));
  } catch (e) {
    throw new CoreSDKError('ERR_CONFIG', `${(e as Error).message} (see --help)`);
  }
  const vars: Record<string, string> = {};
  for (const f of VALUE_FLAGS) {
    const v = values[f.flag];
    if (typeof v === 'string') {
      if (v.trim() === '') throw new CoreSDKError('ERR_CONFIG', `--${f.flag}: must not be empty`);
      vars[f.variable] = v;
    }
  }
  if (values['insecure-dev'] === true) vars.CORESDK_SIDECAR_INSECURE_DEV = 'true';
  const level = (values['log-level'] as string | undefined) ?? env.CORESDK_LOG_LEVEL ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new CoreSDKError('ERR_CONFIG', `--log-level: must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(level)}`);
  }
  const configFlag = values.config as string | undefined;
  return {
    help: values.help === true,
    version: values.version === true,
    check: values.check === true,
    dev: values.dev === true,
    configFile: configFlag ?? env.CORESDK_CONFIG ?? undefined,
    vars,
    logLevel: level as CliArgs['logLevel'],
  };
}
