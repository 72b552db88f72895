/**
 * Express middleware: `coresdk/express`.
 *
 * @example
 * ```ts
 * import express from 'express';
 * import { CoreSDKClient } from 'coresdk';
 * import { coresdk, requirePolicy } from 'coresdk/express';
 *
 * const client = CoreSDKClient.fromEnv();
 * const app = express();
 * app.use(coresdk({ client }));                       // 401/400 problems; req.coresdkUser = claims
 * app.get('/orders/:id', requirePolicy(client, 'data.authz.allow', (req) => ({ action: 'read', resource: { type: 'order', id: req.params.id } })), handler);
 * ```
 *
 * @packageDocumentation
 */
import type { CoreSDKClient } from './client/client.js';
import { authenticate, guard, type AuthOptions, type Claims, type RequestFacts } from './http/authenticate.js';
import type { ProblemResponse } from './http/problem.js';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** The verified claims; `null` for an anonymous request or a fail-open. */
      coresdkUser?: Record<string, unknown> | null;
    }
  }
}

/** The parts of an Express request the middleware reads. */
export interface ExpressRequestLike {
  rawHeaders: string[];
  headers: Record<string, string | string[] | undefined>;
  originalUrl?: string;
  url?: string;
  coresdkUser?: Claims | null;
}

/** The parts of an Express response the middleware writes. */
export interface ExpressResponseLike {
  status(code: number): this;
  set(headers: Record<string, string>): this;
  send(body?: unknown): unknown;
}

type Next = (err?: unknown) => void;

function facts(req: ExpressRequestLike): RequestFacts {
  const url = req.originalUrl ?? req.url ?? '/';
  const q = url.indexOf('?');
  return { rawHeaders: req.rawHeaders, path: q < 0 ? url : url.slice(0, q), traceparent: req.headers.traceparent };
}

function send(res: ExpressResponseLike, p: ProblemResponse): void {
  res.status(p.status).set(p.headers).send(JSON.stringify(p.body));
}

/** Verifies the bearer token of every request; claims land on `req.coresdkUser`. */
export function coresdk<Req extends ExpressRequestLike = ExpressRequestLike>(options: AuthOptions<Req>): (req: Req, res: ExpressResponseLike, next: Next) => void {
  return (req, res, next) => {
    authenticate(facts(req), req, options).then(
      (out) => {
        if (out.ok) {
          req.coresdkUser = out.claims;
          next();
        } else send(res, out.problem);
      },
      next,
    );
  };
}

/** A route guard: 403 (RFC 9457) unless `query` is exactly `true` for `input(req)` plus `claims`. */
export function requirePolicy<Req extends ExpressRequestLike = ExpressRequestLike>(
  client: CoreSDKClient,
  query: string,
  input: (req: Req) => Record<string, unknown> = () => ({}),
  options: { realm?: string } = {},
): (req: Req, res: ExpressResponseLike, next: Next) => void {
  return (req, res, next) => {
    let built: Record<string, unknown>;
    try {
      built = input(req);
    } catch (e) {
      next(e);
      return;
    }
    guard(client, query, built, req.coresdkUser ?? null, facts(req), options.realm).then((p) => {
      if (p === undefined) next();
      else send(res, p);
    }, next);
  };
}

export type { AuthOptions, Claims } from './http/authenticate.js';
export type { ProblemDetails } from './http/problem.js';
