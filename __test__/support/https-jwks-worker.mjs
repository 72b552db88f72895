// The HTTPS JWKS / OIDC server of __test__/support/https-jwks.ts, run in a
// worker thread so that it answers even while the test's main thread is
// blocked inside a synchronous engine call (a constructor that fetches, a
// verifyTokenSync that refetches on an unknown kid).
//
// Routes: GET /jwks (the key set), GET /.well-known/openid-configuration
// (the discovery document); anything else is 404. Request counts go to a
// SharedArrayBuffer the main thread reads without waiting on this thread.
import { createServer } from 'node:https';
import { parentPort, workerData } from 'node:worker_threads';

const { key, cert, counters } = workerData;
const counts = new Int32Array(counters);
const JWKS = 0;
const DISCOVERY = 1;
const OTHER = 2;

const state = {
  jwks: workerData.jwks,
  /** Key sets served to the next /jwks requests, one each, before `jwks`. */
  jwksNext: [],
  /** `null`: the default document naming this server as issuer. */
  discovery: null,
  /** 'ok' | 'slow' | 'reset' | 'status' */
  mode: 'ok',
  delayMs: 0,
  status: 503,
  cacheControl: null,
};

const timers = new Set();
const sockets = new Set();
let port = 0;

const server = createServer({ key, cert }, (req, res) => {
  const path = (req.url ?? '/').split('?')[0];
  const slot = path === '/jwks' ? JWKS : path === '/.well-known/openid-configuration' ? DISCOVERY : OTHER;
  Atomics.add(counts, slot, 1);
  if (state.mode === 'reset') {
    req.socket.destroy();
    return;
  }
  const respond = () => {
    if (state.mode === 'status') {
      res.writeHead(state.status, { 'content-type': 'application/json', connection: 'close' });
      res.end('{"error":"unavailable"}');
      return;
    }
    let body;
    if (slot === JWKS) body = state.jwksNext.length > 0 ? state.jwksNext.shift() : state.jwks;
    else if (slot === DISCOVERY) {
      const origin = `https://127.0.0.1:${port}`;
      body = state.discovery ?? { issuer: origin, jwks_uri: `${origin}/jwks` };
    } else {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{}');
      return;
    }
    const headers = { 'content-type': 'application/json' };
    if (state.cacheControl !== null) headers['cache-control'] = state.cacheControl;
    res.writeHead(200, headers);
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
  };
  if (state.mode === 'slow') {
    const t = setTimeout(() => {
      timers.delete(t);
      if (!res.destroyed) respond();
    }, state.delayMs);
    timers.add(t);
  } else {
    respond();
  }
});
server.on('secureConnection', (s) => {
  sockets.add(s);
  s.on('close', () => sockets.delete(s));
});
server.on('connection', (s) => {
  sockets.add(s);
  s.on('close', () => sockets.delete(s));
});

function listen(onPort) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(onPort, '127.0.0.1', () => {
      server.off('error', reject);
      port = server.address().port;
      resolve(port);
    });
  });
}

function stop() {
  for (const t of timers) clearTimeout(t);
  timers.clear();
  for (const s of sockets) s.destroy();
  sockets.clear();
  return new Promise((resolve) => {
    if (!server.listening) {
      resolve();
      return;
    }
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

parentPort.on('message', (msg) => {
  const reply = (extra = {}) => parentPort.postMessage({ id: msg.id, ok: true, ...extra });
  const fail = (err) => parentPort.postMessage({ id: msg.id, ok: false, error: String(err) });
  switch (msg.op) {
    case 'set':
      Object.assign(state, msg.patch);
      if (msg.patch.jwks !== undefined) state.jwksNext = [];
      // A changed mode applies to connections kept alive from before, too.
      for (const s of sockets) s.destroy();
      reply();
      break;
    case 'once':
      state.jwksNext.push(msg.jwks);
      reply();
      break;
    case 'down':
      stop().then(() => reply(), fail);
      break;
    case 'up':
      if (server.listening) {
        reply({ port });
        break;
      }
      listen(port).then((p) => reply({ port: p }), fail);
      break;
    case 'close':
      stop().then(() => {
        reply();
        parentPort.close();
      }, fail);
      break;
    default:
      fail(new Error(`unknown op ${msg.op}`));
  }
});

listen(0).then(
  (p) => parentPort.postMessage({ id: 0, ok: true, port: p }),
  (err) => parentPort.postMessage({ id: 0, ok: false, error: String(err) }),
);
