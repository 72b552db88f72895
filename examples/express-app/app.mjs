#!/usr/bin/env node
// An Express service protected by CoreSDK: the bearer token is verified on
// every request (claims on req.coresdkUser), and each route asks the policy
// `data.authz.allow` whether the caller may do what the route does.
//
// Run it on its own: `node examples/express-app/app.mjs` (see README.md), or
// import `createApp` (the demo and the benchmark do). With
// OTEL_EXPORTER_OTLP_ENDPOINT set it exports its traces (PII masked),
// metrics and decision log over OTLP.
import { SpanKind, trace } from '@opentelemetry/api';
import express from 'express';

import { CoreSDKClient, otlpConfigured, setupTelemetry } from '../../dist/index.js';
import { coresdk, requirePolicy } from '../../dist/express.js';

/** The app, given a CoreSDKClient. */
export function createApp(client) {
  const app = express();
  app.disable('x-powered-by');
  const tracer = trace.getTracer('express-app');
  // One server span per request, so that CoreSDK's spans (and, through
  // `traceparent`, the sidecar's) share its trace. Services usually get it
  // from @opentelemetry/instrumentation-http; it is spelled out here.
  app.use((req, res, next) => {
    const attributes = { 'http.request.method': req.method, 'url.path': req.path };
    tracer.startActiveSpan(`${req.method} ${req.path}`, { kind: SpanKind.SERVER, attributes }, (span) => {
      res.on('finish', () => {
        span.setAttribute('http.response.status_code', res.statusCode);
        span.end();
      });
      next();
    });
  });
  app.get('/healthz', (_req, res) => {
    res.json({ ok: true });
  });
  app.use(coresdk({ client }));
  const document = (action) => (req) => ({ action, resource: { type: 'document', id: req.params.id } });
  app.get('/documents/:id', requirePolicy(client, 'data.authz.allow', document('read')), (req, res) => {
    // Application code records what it likes; the masking span processor
    // keeps personal data (say, a document named by an e-mail address) out
    // of the exported span.
    tracer.startActiveSpan(`load document ${req.params.id}`, (span) => {
      span.setAttribute('document.id', req.params.id);
      span.end();
    });
    res.json({ id: req.params.id, readBy: req.coresdkUser?.sub ?? null });
  });
  app.put('/documents/:id', requirePolicy(client, 'data.authz.allow', document('write')), (req, res) => {
    res.json({ id: req.params.id, writtenBy: req.coresdkUser?.sub ?? null });
  });
  return app;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const telemetry = otlpConfigured() ? setupTelemetry({ serviceName: process.env.OTEL_SERVICE_NAME ?? 'express-app' }) : undefined;
  const client = CoreSDKClient.fromEnv();
  const port = Number(process.env.PORT ?? 3000);
  const server = createApp(client).listen(port, '127.0.0.1', () => {
    console.log(`express-app on http://127.0.0.1:${port} (CoreSDK ${client.config.mode}, fail mode ${client.config.failMode})`);
  });
  const stop = () => server.close(() => {
    client.close();
    void telemetry?.shutdown();
  });
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
