#!/usr/bin/env node
// The same service as examples/express-app, on Fastify: the CoreSDK plugin
// verifies the bearer token of every request (request.coresdkUser) and each
// route's preHandler asks the policy `data.authz.allow`.
//
// Run it on its own: `node examples/fastify-app/app.mjs` (see README.md).
import Fastify from 'fastify';

import { CoreSDKClient } from '../../dist/index.js';
import { coresdkPlugin, requirePolicy } from '../../dist/fastify.js';

/** The app, given a CoreSDKClient. */
export async function createApp(client) {
  const app = Fastify();
  app.get('/healthz', async () => ({ ok: true }));
  await app.register(async (scope) => {
    await scope.register(coresdkPlugin, { client });
    const document = (action) => (req) => ({ action, resource: { type: 'document', id: req.params.id } });
    scope.get('/documents/:id', { preHandler: requirePolicy(client, 'data.authz.allow', document('read')) }, async (req) => ({ id: req.params.id, readBy: req.coresdkUser?.sub ?? null }));
    scope.put('/documents/:id', { preHandler: requirePolicy(client, 'data.authz.allow', document('write')) }, async (req) => ({ id: req.params.id, writtenBy: req.coresdkUser?.sub ?? null }));
  });
  return app;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const client = CoreSDKClient.fromEnv();
  const app = await createApp(client);
  const port = Number(process.env.PORT ?? 3001);
  await app.listen({ port, host: '127.0.0.1' });
  console.log(`fastify-app on http://127.0.0.1:${port} (CoreSDK ${client.config.mode}, fail mode ${client.config.failMode})`);
  const stop = () => app.close().then(() => client.close());
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
