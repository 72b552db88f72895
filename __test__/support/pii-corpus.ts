/**
 * A labelled corpus for the PII masker, generated from a fixed seed so that
 * every run sees the same samples: positives for each detector (embedded in
 * ordinary sentences, in several formats), and negatives that look numeric
 * or structured but are not personal data (UUIDs, trace ids, timestamps,
 * versions, hashes, amounts, ports, durations...).
 */

import { rng } from './rng.js';

/** One sample: the text and the entity types that must be masked in it (empty for a negative). */
export interface Sample {
  text: string;
  entities: string[];
  /** For credentials: the secret itself, which must not survive masking. */
  secret?: string;
}

export function corpus(): { positives: Sample[]; negatives: Sample[] } {
  const r = rng(20261128);
  const int = (lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[int(0, xs.length - 1)] as T;
  const digits = (n: number): string => Array.from({ length: n }, () => String(int(0, 9))).join('');
  const chars = (n: number, set: string): string => Array.from({ length: n }, () => set[int(0, set.length - 1)]).join('');
  const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const B64U = `${ALNUM}-_`;
  const HEX = '0123456789abcdef';
  const words = ['the', 'order', 'was', 'shipped', 'to', 'customer', 'after', 'review', 'by', 'support', 'team', 'please', 'contact', 'regarding', 'invoice'];
  const sentence = (n: number): string => Array.from({ length: n }, () => pick(words)).join(' ');
  const wrap = (s: string): string => pick([`${sentence(3)} ${s} ${sentence(2)}`, s, `${sentence(4)}: ${s}`, `(${s})`, `${sentence(2)} ${s}.`]);

  const luhnComplete = (body: string): string => {
    for (let c = 0; c <= 9; c++) {
      const s = body + String(c);
      let sum = 0;
      Array.from(s, (ch) => ch).reverse().forEach((ch, i) => {
        let v = Number(ch);
        if (i % 2 === 1) {
          v *= 2;
          if (v > 9) v -= 9;
        }
        sum += v;
      });
      if (sum % 10 === 0) return s;
    }
    throw new Error('unreachable');
  };
  const iban = (cc: string, bban: string): string => {
    const rearranged = `${bban}${cc}00`.replace(/[A-Z]/g, (ch) => String(ch.charCodeAt(0) - 55));
    let rem = 0;
    for (const ch of rearranged) rem = (rem * 10 + Number(ch)) % 97;
    const check = String(98 - rem).padStart(2, '0');
    return `${cc}${check}${bban}`;
  };

  const gens: Record<string, () => string> = {
    email: () => `${pick(['alice', 'bob.smith', 'j.doe+news', 'carol_w', 'dev-ops'])}${int(1, 999)}@${pick(['example.com', 'mail.example.org', 'corp.example.co.uk', 'xn--bcher-kva.example'])}`,
    card_number: () => {
      const [prefix, len] = pick([['4', 16], ['51', 16], ['55', 16], ['37', 15], ['6011', 16], ['35', 16]] as const);
      const n = luhnComplete(prefix + digits(len - prefix.length - 1));
      const sep = pick(['', ' ', '-']);
      return sep === '' ? n : n.replace(/(\d{4})(?=\d)/g, `$1${sep}`);
    },
    phone: () =>
      pick([
        `+1${int(200, 999)}${int(200, 999)}${digits(4)}`,
        `+44 20 ${digits(4)} ${digits(4)}`,
        `(${int(200, 999)}) ${int(200, 999)}-${digits(4)}`,
        `${int(200, 999)}-${int(200, 999)}-${digits(4)}`,
        `+49 30 ${digits(3)} ${digits(4)}`,
        `+33 1 ${digits(4)} ${digits(4)}`,
      ]),
    ipv4: () => `${int(1, 223)}.${int(0, 255)}.${int(0, 255)}.${int(1, 254)}`,
    ipv6: () =>
      pick([
        `2001:db8:${chars(4, HEX)}:${chars(3, HEX)}::${chars(2, HEX)}`,
        `fe80::${chars(4, HEX)}:${chars(4, HEX)}:${chars(4, HEX)}:${chars(4, HEX)}`,
        Array.from({ length: 8 }, () => chars(int(1, 4), HEX)).join(':'),
        `::ffff:10.${int(0, 255)}.${int(0, 255)}.${int(1, 254)}`,
      ]),
    us_ssn: () => `${int(1, 665)}`.padStart(3, '1') + `-${String(int(1, 99)).padStart(2, '0')}-${String(int(1, 9999)).padStart(4, '0')}`,
    iban: () => {
      const v = pick([
        () => iban('DE', digits(18)),
        () => iban('GB', `${chars(4, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ')}${digits(14)}`),
        () => iban('FR', `${digits(10)}${chars(11, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789')}${digits(2)}`),
        () => iban('NL', `${chars(4, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ')}${digits(10)}`),
      ])();
      return r() < 0.5 ? v : v.replace(/(.{4})(?=.)/g, '$1 ');
    },
    aws_access_key: () => `${pick(['AKIA', 'ASIA'])}${chars(16, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567')}`,
    github_token: () => (r() < 0.8 ? `${pick(['ghp', 'gho', 'ghs', 'ghu'])}_${chars(36, ALNUM)}` : `github_pat_${chars(22, ALNUM)}_${chars(59, ALNUM)}`),
    stripe_key: () => `${pick(['sk', 'rk'])}_${pick(['live', 'test'])}_${chars(24, ALNUM)}`,
    slack_token: () => `xox${pick(['b', 'p', 'a'])}-${digits(12)}-${digits(12)}-${chars(24, ALNUM)}`,
    jwt: () => `eyJ${chars(int(15, 40), B64U)}.eyJ${chars(int(20, 120), B64U)}.${chars(43, B64U)}`,
    bearer_token: () => `${pick(['Bearer', 'bearer', 'BEARER'])} ${chars(int(20, 60), `${ALNUM}-._~+/`)}`,
    private_key: () =>
      r() < 0.75
        ? `-----BEGIN ${pick(['', 'RSA ', 'EC ', 'OPENSSH '])}PRIVATE KEY-----\n${chars(64, `${ALNUM}+/`)}\n${chars(40, `${ALNUM}+/`)}\n-----END ${pick(['', 'RSA ', 'EC '])}PRIVATE KEY-----`
        : // A GCP service-account key file, its newlines escaped as in the JSON.
          `{"type": "service_account", "project_id": "acme-prod", "private_key": "-----BEGIN PRIVATE KEY-----\\n${chars(64, `${ALNUM}+/`)}\\n${chars(24, `${ALNUM}+/`)}==\\n-----END PRIVATE KEY-----\\n"}`,
  };
  // Credentials whose secret is a known part of the sample: [text, secret].
  const b64 = (s: string): string => Buffer.from(s).toString('base64');
  const PASS = `${ALNUM}-_.~!*$`;
  const secretGens: Record<string, () => [string, string]> = {
    basic_auth: () => {
      const token = b64(`${pick(['alice', 'svc-backup', 'admin', 'bob.smith'])}:${chars(int(6, 24), PASS)}`);
      const t = r() < 0.3 ? token.replace(/=+$/, '') : token;
      return [`${pick(['Authorization: Basic', 'authorization: basic', 'Proxy-Authorization: Basic', 'sent BASIC'])} ${t}`, t];
    },
    url_credentials: () => {
      const pass = chars(int(6, 24), PASS);
      const url = `${pick(['https', 'postgres', 'redis', 'amqp', 'mongodb+srv', 'ftp'])}://${pick(['', 'alice', 'app_user', 'svc.reader'])}:${pass}@${pick(['db.example.com', 'cache:6379', 'pg.internal:5432', 'broker.internal'])}${pick(['', '/orders', '/0', '/vhost?ssl=1'])}`;
      return [url, pass];
    },
    credential_param: () => {
      const v = chars(int(6, 32), PASS);
      const key = pick(['password', 'passwd', 'pwd', 'secret', 'client_secret', 'api_key', 'apikey', 'token', 'access_token', 'refresh_token', 'DB_PASSWORD', 'x-api-key', 'app.secret', 'Password']);
      return [
        pick([`GET /login?user=bob&${key}=${v}&next=%2F`, `${key}=${v}`, `"${key}": "${v}"`, `{"user":"bob","${key}":"${v}"}`, `${key}='${v}'`, `export ${key}="${v}"`]),
        v,
      ];
    },
    azure_key: () => {
      const key = Buffer.from(chars(64, ALNUM)).toString('base64');
      return pick([
        () => [`DefaultEndpointsProtocol=https;AccountName=acme${int(1, 99)};AccountKey=${key};EndpointSuffix=core.windows.net`, key] as [string, string],
        () => [`Endpoint=sb://acme.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=${key.slice(0, 44)}`, key.slice(0, 44)] as [string, string],
        () => {
          const sig = encodeURIComponent(key.slice(0, 44));
          return [`https://acme.blob.core.windows.net/c/report.csv?sv=2022-11-02&sp=r&sr=b&sig=${sig}`, sig] as [string, string];
        },
      ])();
    },
    openai_key: () => {
      const k = r() < 0.5 ? `sk-${chars(20, ALNUM)}T3BlbkFJ${chars(20, ALNUM)}` : `sk-${pick(['proj-', 'svcacct-', ''])}${chars(int(40, 120), `${ALNUM}_-`)}`;
      return [k, k];
    },
    anthropic_key: () => {
      const k = `sk-ant-${pick(['api03', 'admin01'])}-${chars(93, B64U)}AA`;
      return [k, k];
    },
    google_api_key: () => {
      const k = `AIza${chars(35, B64U)}`;
      return [k, k];
    },
  };

  const positives: Sample[] = [];
  for (const [entity, gen] of Object.entries(gens)) {
    for (let i = 0; i < 40; i++) positives.push({ text: wrap(gen()), entities: [entity] });
  }
  for (const [entity, gen] of Object.entries(secretGens)) {
    for (let i = 0; i < 40; i++) {
      const [text, secret] = gen();
      positives.push({ text: wrap(text), entities: [entity], secret });
    }
  }

  const negGens: Array<() => string> = [
    () => `${chars(8, HEX)}-${chars(4, HEX)}-4${chars(3, HEX)}-${pick(['8', '9', 'a', 'b'])}${chars(3, HEX)}-${chars(12, HEX)}`,
    () => `trace_id=${chars(32, HEX)} span_id=${chars(16, HEX)}`,
    () => `00-${chars(32, HEX)}-${chars(16, HEX)}-01`,
    () => `2026-${String(int(1, 12)).padStart(2, '0')}-${String(int(1, 28)).padStart(2, '0')}T${String(int(0, 23)).padStart(2, '0')}:${String(int(0, 59)).padStart(2, '0')}:${String(int(0, 59)).padStart(2, '0')}.${digits(3)}Z`,
    () => `${String(int(0, 23)).padStart(2, '0')}:${String(int(0, 59)).padStart(2, '0')}:${String(int(0, 59)).padStart(2, '0')}`,
    () => `version ${int(0, 20)}.${int(0, 30)}.${int(0, 99)}`,
    () => `v${int(1, 9)}.${int(0, 30)}.${int(0, 99)}.${int(0, 999)}`,
    () => `release ${int(1, 9)}.${int(0, 30)}.${int(0, 99)}-rc.${int(1, 9)}`,
    () => `order ${digits(int(4, 9))} total ${int(1, 999)}.${digits(2)} EUR`,
    () => `took ${int(1, 9999)} ms, ${int(1, 99)} retries, port ${int(1024, 65535)}`,
    () => `sha256:${chars(64, HEX)}`,
    () => `commit ${chars(40, HEX)}`,
    () => `${int(1, 31)}/${int(1, 12)}/${int(1990, 2030)}`,
    () => `epoch ${int(1_600_000_000, 1_900_000_000)}`,
    () => sentence(int(5, 12)),
    () => `pi=3.14159265358979 e=2.718281828`,
    () => `build ${int(10000, 99999)}.${int(100, 999)}`,
    () => `checksum ${luhnComplete(digits(15)).replace(/.$/, (d) => String((Number(d) + 1) % 10))}`, // 16 digits failing Luhn
    () => `aa:bb:cc:${chars(2, HEX)}:${chars(2, HEX)}:${chars(2, HEX)}`,
    () => `std::collections::HashMap`,
    () => `ratio 16:9 at ${int(1, 99)}% for ${int(2, 9)}x`,
    () => `id ${int(100, 999)}-${int(10, 99)}-${int(10000, 99999)}`,
    () => `tel extension ${int(100, 9999)}`,
    () => `${int(1, 999)}.${int(0, 999)}.${int(0, 999)}`,
    () => `ISO ${int(1000, 9999)}-${int(1, 9)}`,
    // Look-alikes of credentials.
    () => pick(['a Basic idea', 'the Basic plan', 'Basic usage:', 'BASIC program', 'basic auth is off', 'Basic realm="api"', 'Basic YWJjZGVm']),
    () => `https://${pick(['api.example.com:8443', 'example.org', 'cdn.example.net:443'])}/v${int(1, 3)}/users?page=${int(1, 9)}`,
    () => pick([`max_tokens=${int(16, 4096)}`, `token_count=${int(1, 99)}`, `password_reset=true`, `show_secret=false`, `pwd=/home/${pick(words)}`, `password=********`, `passwordless=true`, `mytoken=${int(1, 99)}`, `password=`]),
    () => `sk-${Array.from({ length: int(6, 10) }, () => pick(words)).join('-')}`,
    () => pick(['sk-learn', 'AIzaTest', `AIza${chars(10, ALNUM)}`, 'AccountName=acme;EndpointSuffix=core.windows.net', 'SharedAccessKeyName=RootManageSharedAccessKey', `sig=${chars(8, ALNUM)}`]),
  ];
  const negatives: Sample[] = [];
  for (let i = 0; i < 600; i++) negatives.push({ text: wrap((negGens[i % negGens.length] as () => string)()), entities: [] });
  return { positives, negatives };
}
