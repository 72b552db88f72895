/**
 * Fastify plugin: `coresdk/fastify`.
 *
 * @example
 * ```ts
 * import Fastify from 'fastify';
 * import { CoreSDKClient } from 'coresdk';
 * import { coresdkPlugin, requirePolicy } from 'coresdk/fastify';
 *
 * const client = CoreSDKClient.fromEnv();
 * const app = Fastify();
 * await app.register(coresdkPlugin, { client });      // request.coresdkUser = claims
 * app.get('/orders/:id', { preHandler: requirePolicy(client, 'data.authz.allow', (req) => ({ action: 'read' })) }, handler);
 * ```
 *
 * The plugin is not encapsulated (like `fastify-plugin`), so its hook
 * covers every route of the instance it is registered on.
 *
 * @packageDocumentation
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

import type { CoreSDKClient } from './client/client.js';
import { authenticate, guard, type AuthOptions, type RequestFacts } from './http/authenticate.js';
import type { ProblemResponse } from './http/problem.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified claims; `null` for an anonymous request or a fail-open. */
    coresdkUser: Record<string, unknown> | null;
  }
}

function facts(req: FastifyRequest): RequestFacts {
  const url = req.url;
  const q = url.indexOf('?');
  return { rawHeaders: req.raw.rawHeaders, path: q < 0 ? url : url.slice(0, q), traceparent: req.headers.traceparent };
}

function send(reply: FastifyReply, p: ProblemResponse): FastifyReply {
  return reply.code(p.status).headers(p.headers).send(JSON.stringify(p.body));
}

/** Options of {@link coresdkPlugin}. */
export type FastifyAuthOptions = AuthOptions<FastifyRequest>;

/** Verifies the bearer token of every request in an `onRequest` hook; claims land on `request.coresdkUser`. */
export async function coresdkPlugin(app: FastifyInstance, options: FastifyAuthOptions): Promise<void> {
  app.decorateRequest('coresdkUser', null);
  app.addHook('onRequest', async (req, reply) => {
    const out = await authenticate(facts(req), req, options);
    if (out.ok) {
      req.coresdkUser = out.claims;
      return;
    }
    return send(reply, out.problem);
  });
  return Promise.resolve();
}
// Not encapsulated: the hook applies to the whole instance (what fastify-plugin does).
(coresdkPlugin as unknown as Record<symbol, unknown>)[Symbol.for('skip-override')] = true;
(coresdkPlugin as unknown as Record<symbol, unknown>)[Symbol.for('fastify.display-name')] = 'coresdk';

/** A `preHandler` guard: 403 (RFC 9457) unless `query` is exactly `true` for `input(request)` plus claims. */
export function requirePolicy(
  client: CoreSDKClient,
  query: string,
  input: (req: FastifyRequest) => Record<string, unknown> = () => ({}),
  options: { realm?: string } = {},
): (req: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply | undefined> {
  return async (req, reply) => {
    const p = await guard(client, query, input(req), req.coresdkUser, facts(req), options.realm);
    return p === undefined ? undefined : send(reply, p);
  };
}

export type { AuthOptions, Claims } from './http/authenticate.js';
export type { ProblemDetails } from './http/problem.js';
