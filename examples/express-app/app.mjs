#!/usr/bin/env node
// An Express service protected by CoreSDK: the bearer token is verified on
// every request (claims on req.coresdkUser), and each route asks the policy
// `data.authz.allow` whether the caller may do what the route does.
//
// Run it on its own: `node examples/express-app/app.mjs` (see README.md), or
// import `createApp` (the demo and the benchmark do).
import express from 'express';

import { CoreSDKClient } from '../../dist/index.js';
import { coresdk, requirePolicy } from '../../dist/express.js';

/** The app, given a CoreSDKClient. */
export function createApp(client) {
  const app = express();
  app.disable('x-powered-by');
  app.get('/healthz', (_req, res) => {
    res.json({ ok: true });
  });
  app.use(coresdk({ client }));
  const document = (action) => (req) => ({ action, resource: { type: 'document', id: req.params.id } });
  app.get('/documents/:id', requirePolicy(client, 'data.authz.allow', document('read')), (req, res) => {
    res.json({ id: req.params.id, readBy: req.coresdkUser?.sub ?? null });
  });
  app.put('/documents/:id', requirePolicy(client, 'data.authz.allow', document('write')), (req, res) => {
    res.json({ id: req.params.id, writtenBy: req.coresdkUser?.sub ?? null });
  });
  return app;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const client = CoreSDKClient.fromEnv();
  const port = Number(process.env.PORT ?? 3000);
  const server = createApp(client).listen(port, '127.0.0.1', () => {
    console.log(`express-app on http://127.0.0.1:${port} (CoreSDK ${client.config.mode}, fail mode ${client.config.failMode})`);
  });
  const stop = () => server.close(() => { client.close(); });
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
