#!/usr/bin/env node
/**
 * `coresdk-sidecar`: starts the Rust data plane through the addon and runs
 * its lifecycle: configuration, signals, reload, drain, structured logs.
 *
 * Logs are pino JSON lines on stdout. The data plane's lifecycle events are
 * collected in batches (every 200 ms) and logged here; nothing is logged per
 * call, and no log line carries a token, claims or input.
 *
 * With an OTLP endpoint configured (`OTEL_EXPORTER_OTLP_ENDPOINT` or a
 * per-signal form, unless `OTEL_SDK_DISABLED=true`), the data plane records
 * per-call spans, metrics and decision-log records in Rust and this CLI
 * exports them in batches ({@link SidecarTelemetry}); the sampler follows
 * `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG`.
 *
 * @packageDocumentation
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { diag, DiagLogLevel } from '@opentelemetry/api';
import { pino } from 'pino';

import { CoreSDKError } from '../errors.js';
import { metricIntervalMs, otlpConfigured, otlpProtocol } from '../otel/exporters.js';
import { SidecarTelemetry } from '../otel/sidecar-telemetry.js';
import { helpText, parseCliArgs } from './args.js';
import { DEV_AUTHZEN_DEFAULTS, devAuthzenAddr, devSetup, packageRoot } from './dev.js';
import { runPolicyCommand } from './policy-commands.js';
import { SidecarServer, type SidecarEvent } from './server.js';

const EVENT_POLL_MS = 200;

function version(): string {
  const pkg = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

function fail(err: unknown): never {
  const e = err instanceof CoreSDKError ? err : new CoreSDKError('ERR_CONFIG', err instanceof Error ? err.message : String(err));
  process.stderr.write(`coresdk-sidecar: [${e.code}] ${e.message}\n`);
  process.exit(2);
}

async function main(): Promise<void> {
  const [command, ...rest] = process.argv.slice(2);
  if (command === 'test' || command === 'check') {
    process.exitCode = runPolicyCommand('coresdk-sidecar', command, rest, {
      out: (t) => process.stdout.write(t),
      err: (t) => process.stderr.write(t),
    });
    return;
  }
  let args;
  try {
    args = parseCliArgs(process.argv.slice(2), process.env);
  } catch (e) {
    fail(e);
  }
  if (args.help) {
    process.stdout.write(helpText(version()));
    return;
  }
  if (args.version) {
    process.stdout.write(`coresdk-sidecar ${version()}\n`);
    return;
  }
  const log = pino({ name: 'coresdk-sidecar', level: args.logLevel, base: { pid: process.pid } });

  // Precedence: flags, then the environment, then the file.
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (k.startsWith('CORESDK_') && v !== undefined) env[k] = v;
  let devToken: string | undefined;
  if (args.dev) {
    const dev = devSetup();
    devToken = dev.token;
    Object.assign(env, dev.vars);
    for (const [k, v] of Object.entries(DEV_AUTHZEN_DEFAULTS)) env[k] ??= v;
  }
  const vars = { ...env, ...args.vars };
  if (args.dev && !('CORESDK_SIDECAR_AUTHZEN_ADDR' in vars)) vars.CORESDK_SIDECAR_AUTHZEN_ADDR = devAuthzenAddr(vars.CORESDK_SIDECAR_ADDR);
  let configFile = args.configFile;
  if (configFile === undefined && existsSync('coresdk.toml') && !args.dev) configFile = 'coresdk.toml';

  if (args.check) {
    try {
      const c = SidecarServer.check({ configFile, vars });
      process.stdout.write(`configuration OK: ${JSON.stringify(c)}\n`);
      return;
    } catch (e) {
      fail(e);
    }
  }

  const exporting = otlpConfigured(process.env);
  let sidecar: SidecarServer;
  try {
    if (exporting) {
      for (const signal of ['TRACES', 'METRICS', 'LOGS'] as const) otlpProtocol(signal, process.env);
      metricIntervalMs(process.env);
    }
    sidecar = await SidecarServer.start({
      configFile,
      vars,
      telemetry: exporting ? { sampler: process.env.OTEL_TRACES_SAMPLER, samplerArg: process.env.OTEL_TRACES_SAMPLER_ARG } : undefined,
    });
  } catch (e) {
    fail(e);
  }
  const telemetry = exporting ? SidecarTelemetry.start(sidecar, { version: version() }) : undefined;
  if (telemetry !== undefined) {
    // Export failures (collector down, refused, timed out) are reported by the SDK through
    // its diagnostic logger: surface them, at most one line per 10 s, never per span.
    let lastWarn = 0;
    let suppressed = 0;
    const warn = (message: string, ...args: unknown[]): void => {
      const now = Date.now();
      if (now - lastWarn < 10_000) {
        suppressed++;
        return;
      }
      lastWarn = now;
      const detail = args.map((a) => (a instanceof Error ? a.message : typeof a === 'string' ? a : '')).filter((a) => a !== '').join('; ');
      log.warn({ event: 'telemetry_error', suppressed }, `telemetry export: ${message}${detail === '' ? '' : `: ${detail}`}`);
      suppressed = 0;
    };
    const quiet = (): void => undefined;
    diag.setLogger({ error: warn, warn, info: quiet, debug: quiet, verbose: quiet }, { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true });
    log.info(
      { event: 'telemetry', endpoint: process.env.OTEL_EXPORTER_OTLP_ENDPOINT ?? null, protocol: otlpProtocol('TRACES', process.env) },
      'exporting per-call spans, metrics and the decision log over OTLP',
    );
  }
  const flush = (): void => {
    for (const ev of sidecar.takeEvents()) logEvent(log, ev);
  };
  flush();
  const poll = setInterval(flush, EVENT_POLL_MS);
  log.info({ event: 'started', addr: sidecar.addr, version: version(), config: configFile ?? null }, `coresdk-sidecar ${version()} serving on ${sidecar.addr}`);
  if (devToken !== undefined) {
    log.warn({ event: 'dev_mode' }, 'development defaults: example bundle, development key set, insecure-dev on loopback');
    const authzen = sidecar.status().authzen_addr;
    if (authzen !== null) {
      process.stdout.write(`AuthZEN PDP (plaintext, development only): http://${authzen}/.well-known/authzen-configuration\n`);
    }
    process.stdout.write(`\nDevelopment token (12 h, tenant ${vars.CORESDK_TENANT_ID ?? 'acme-corp'}):\n${devToken}\n\n`);
  }

  let stoppingSince = 0;
  const stop = (signal: NodeJS.Signals): void => {
    if (stoppingSince > 0) {
      // A duplicate delivery (a supervisor signalling the process and its
      // group at once) is not a request to hurry: only a second signal a
      // moment later (Ctrl-C twice) skips the drain.
      if (Date.now() - stoppingSince < 1000) return;
      log.warn({ event: 'forced_exit', signal }, `${signal} again: exiting without waiting`);
      process.exit(1);
    }
    stoppingSince = Date.now();
    log.info({ event: 'signal', signal }, `${signal}: draining (deadline ${sidecar.drainTimeoutMs} ms)`);
    void sidecar.drain().then(
      async (report) => {
        clearInterval(poll);
        flush();
        if (telemetry !== undefined) {
          // Bounded: the exporters' own timeouts (OTEL_EXPORTER_OTLP_TIMEOUT) apply.
          await telemetry.shutdown().catch((e: unknown) => {
            log.warn({ event: 'telemetry_flush_failed', err: String(e) }, 'could not export the last telemetry');
          });
          log.info({ event: 'telemetry_stopped', ...telemetry.stats }, 'telemetry exported');
        }
        log.info({ event: 'exit', ...report }, report.complete ? 'stopped cleanly' : 'stopped with calls abandoned');
        process.exitCode = report.complete ? 0 : 1;
        log.flush();
      },
      (e: unknown) => {
        log.error({ event: 'drain_failed', err: String(e) }, 'drain failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('SIGHUP', () => {
    log.info({ event: 'signal', signal: 'SIGHUP' }, 'SIGHUP: reloading policies and certificates');
    void sidecar.reload().then((r) => {
      log.info({ event: 'reload', result: r }, 'reload done');
    });
  });
}

function logEvent(log: pino.Logger, ev: SidecarEvent): void {
  const { level, msg, ...fields } = ev;
  log[level]({ source: 'data-plane', ...fields }, msg);
}

void main();
