#!/usr/bin/env node
// The Go SDK's static checks for `npm test` (scripts/test.mjs), over every Go
// module of the repository: clients/go (the SDK), its tools module, the
// example app and the benchmark.
//
//   node clients/go/scripts/check.mjs fmt          gofmt -l must list nothing
//   node clients/go/scripts/check.mjs vet          go vet ./... in each module
//   node clients/go/scripts/check.mjs staticcheck  staticcheck (pinned, from the Go module proxy)
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const STATICCHECK = 'honnef.co/go/tools/cmd/staticcheck@v0.8.2';
const modules = ['clients/go', 'clients/go/tools', 'examples/go-http', 'bench/go'].filter((m) => existsSync(join(root, m, 'go.mod')));

function run(cmd, args, cwd) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.error) throw r.error;
  return r;
}

const what = process.argv[2];
let failed = false;
for (const m of modules) {
  const cwd = join(root, m);
  if (what === 'fmt') {
    const r = run('gofmt', ['-l', '.'], cwd);
    const files = r.stdout.split('\n').filter(Boolean);
    if (r.status !== 0 || files.length > 0) {
      console.error(`gofmt: not formatted in ${m}:\n  ${files.join('\n  ')}`);
      failed = true;
    }
  } else if (what === 'vet' || what === 'staticcheck') {
    const args = what === 'vet' ? ['vet', './...'] : ['run', STATICCHECK, './...'];
    const r = run('go', args, cwd);
    process.stdout.write(r.stdout);
    if (r.status !== 0) {
      console.error(`go ${what}: failed in ${m}`);
      failed = true;
    }
  } else {
    console.error('usage: check.mjs fmt|vet|staticcheck');
    process.exit(2);
  }
}
if (!failed) console.log(`${what}: clean (${modules.join(', ')})`);
process.exit(failed ? 1 : 0);
