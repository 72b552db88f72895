/**
 * Raw HTTP/1.1 requests over a socket, so that tests can send what fetch
 * refuses to (two Authorization headers, odd spacing) and read every header.
 */
import { connect } from 'node:net';

/** A parsed response. */
export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  json(): Record<string, unknown>;
}

/** Sends `GET`/`POST` with exactly these header lines. */
export function rawRequest(port: number, method: string, path: string, headerLines: Array<[string, string]>): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port }, () => {
      const lines = [`${method} ${path} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close', ...headerLines.map(([k, v]) => `${k}: ${v}`)];
      if (method === 'POST') lines.push('Content-Length: 0');
      s.write(`${lines.join('\r\n')}\r\n\r\n`);
    });
    let data = '';
    s.setEncoding('utf8');
    s.on('data', (c: string) => {
      data += c;
    });
    s.on('error', reject);
    s.on('end', () => {
      const head = data.slice(0, data.indexOf('\r\n\r\n'));
      let body = data.slice(head.length + 4);
      const [statusLine = '', ...hl] = head.split('\r\n');
      const headers: Record<string, string> = {};
      for (const l of hl) {
        const i = l.indexOf(':');
        headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
      }
      if (headers['transfer-encoding'] === 'chunked') {
        let out = '';
        let rest = body;
        for (;;) {
          const nl = rest.indexOf('\r\n');
          const size = parseInt(rest.slice(0, nl), 16);
          if (!size) break;
          out += rest.slice(nl + 2, nl + 2 + size);
          rest = rest.slice(nl + 2 + size + 2);
        }
        body = out;
      }
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body, json: () => JSON.parse(body) as Record<string, unknown> });
    });
  });
}
