/**
 * A mutual-TLS PKI made for the test by the `openssl` CLI: a CA, a server
 * certificate for [::1] / 127.0.0.1 / localhost, a client certificate from
 * the same CA, and a client certificate from another CA.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const OPENSSL = '/usr/bin/openssl';

function openssl(dir: string, args: string[]): void {
  execFileSync(OPENSSL, args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

function ca(dir: string, name: string): void {
  openssl(dir, [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '2', '-subj', `/CN=coresdk ${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
}

/** Issues `<name>.pem`/`<name>.key` signed by `<caName>`. */
export function issue(dir: string, caName: string, name: string, usage: 'serverAuth' | 'clientAuth'): { cert: string; key: string } {
  openssl(dir, [
    'req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`,
  ]);
  const san = usage === 'serverAuth' ? 'subjectAltName=IP:::1,IP:127.0.0.1,DNS:localhost' : `subjectAltName=DNS:${name}`;
  writeFileSync(
    join(dir, `${name}.ext`),
    [san, 'basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature', `extendedKeyUsage=${usage}`, ''].join('\n'),
  );
  openssl(dir, [
    'x509', '-req', '-in', `${name}.csr`, '-CA', `${caName}.pem`, '-CAkey', `${caName}.key`,
    '-set_serial', `0x${randomBytes(8).toString('hex')}`, '-days', '2', '-sha256',
    '-extfile', `${name}.ext`, '-out', `${name}.pem`,
  ]);
  return { cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) };
}

/** File paths and PEM texts of the test PKI. */
export interface MtlsPki {
  dir: string;
  caFile: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  otherClientCert: string;
  otherClientKey: string;
  /** PEM bytes, for grpc-js credentials. */
  pem(file: string): Buffer;
}

/** Makes the PKI in `dir`. */
export function makeMtlsPki(dir: string): MtlsPki {
  ca(dir, 'ca');
  ca(dir, 'other-ca');
  const server = issue(dir, 'ca', 'server', 'serverAuth');
  const client = issue(dir, 'ca', 'client', 'clientAuth');
  const other = issue(dir, 'other-ca', 'intruder', 'clientAuth');
  return {
    dir,
    caFile: join(dir, 'ca.pem'),
    serverCert: server.cert,
    serverKey: server.key,
    clientCert: client.cert,
    clientKey: client.key,
    otherClientCert: other.cert,
    otherClientKey: other.key,
    pem: (file) => readFileSync(file),
  };
}
