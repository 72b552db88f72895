#!/usr/bin/env node
// `npm test`: every check, Rust and TypeScript, in order; stops at the first failure.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// The Python SDK's checks run with clients/python/.venv's interpreter (made by its bootstrap step).
const py = join(root, 'clients', 'python', '.venv', process.platform === 'win32' ? 'Scripts/python.exe' : 'bin/python');
const inPy = { cwd: join(root, 'clients', 'python') };
// The Go SDK's checks run in its module (clients/go); the stub generator lives in clients/go/tools.
const inGo = { cwd: join(root, 'clients', 'go') };
const inGoTools = { cwd: join(root, 'clients', 'go', 'tools') };
const inGoExample = { cwd: join(root, 'examples', 'go-http') };
const inGoBench = { cwd: join(root, 'bench', 'go') };
const steps = [
  ['cargo fmt', 'cargo', ['fmt', '--all', '--', '--check']],
  ['cargo clippy', 'cargo', ['clippy', '--workspace', '--all-targets', '--', '-D', 'warnings']],
  ['cargo test', 'cargo', ['test', '--workspace']],
  // The parity test (vitest) runs this binary: build it here, not inside a test's timeout.
  ['cargo build examples', 'cargo', ['build', '-p', 'coresdk-engine', '--example', 'decide', '-p', 'rust-inprocess']],
  // The coresdk-sidecar program itself (target/debug/coresdk-sidecar): its own tests (vitest, pytest) run it without Node.
  ['cargo build sidecar', 'cargo', ['build', '-p', 'coresdk-sidecar', '--bin', 'coresdk-sidecar']],
  ['binding drift', process.execPath, ['scripts/check-binding.mjs']],
  // The error contract (proto/contract/errors.json) and the code generated from it in every language.
  ['contract drift', process.execPath, ['scripts/gen-contract.mjs', '--check']],
  ['tsc', 'npx', ['tsc', '-p', 'tsconfig.json']],
  ['build dist', process.execPath, ['scripts/build-ts.mjs']],
  ['package exports', 'npm', ['run', '--silent', 'lint:package']],
  ['platform packages', process.execPath, ['scripts/release-manifests.mjs', '--check']],
  ['eslint', 'npx', ['eslint', '--max-warnings', '0', '.']],
  // The OTLP end-to-end test needs Jaeger, built once from the Go module proxy.
  ['ensure jaeger', process.execPath, ['scripts/ensure-jaeger.mjs']],
  // The AuthZEN second-opinion test runs OPA's server: installed once (go install), not inside a test's timeout.
  ['ensure opa', process.execPath, ['bench/tools/ensure-opa.mjs']],
  ['vitest', 'npx', ['vitest', 'run']],
  // The 30-s soak runs alone: its load would slow the other suites' process starts (npm run soak: 10 minutes).
  ['soak', 'npx', ['vitest', 'run', '__test__/soak.test.ts'], { env: { ...process.env, CORESDK_SOAK: '1' } }],
  // The Python SDK (clients/python): lint, types, stub drift, then pytest against the real sidecar (needs dist/).
  ['python venv', process.execPath, ['clients/python/scripts/bootstrap.mjs']],
  ['python ruff', py, ['-m', 'ruff', 'check', '.', '../../examples/fastapi-app', '../../bench/python'], inPy],
  ['python ruff format', py, ['-m', 'ruff', 'format', '--check', '.', '../../examples/fastapi-app', '../../bench/python'], inPy],
  ['python mypy --strict', py, ['-m', 'mypy'], inPy],
  ['python stub drift', py, ['scripts/gen_proto.py', '--check'], inPy],
  ['python pytest', py, ['-m', 'pytest', '-q', '-p', 'no:cacheprovider'], inPy],
  // The Go SDK (clients/go, examples/go-http, bench/go): format, vet, staticcheck, stub drift, then go test against the real sidecar (needs dist/).
  ['go gofmt', process.execPath, ['clients/go/scripts/check.mjs', 'fmt']],
  ['go vet', process.execPath, ['clients/go/scripts/check.mjs', 'vet']],
  ['go staticcheck', process.execPath, ['clients/go/scripts/check.mjs', 'staticcheck']],
  ['go stub drift', 'go', ['run', './protogen', '-check'], inGoTools],
  ['go test', 'go', ['test', '-count=1', './...'], inGo],
  // examples/go-http and the README's Go sample against a --dev sidecar; the benchmark's stacks agree on the verdicts (no timing).
  ['go test example', 'go', ['test', '-count=1', './...'], inGoExample],
  ['go test bench', 'go', ['test', '-count=1', '-run', 'TestStacksAgree', './...'], inGoBench],
  // The Java SDK (clients/java, Maven, Java 17; dependencies from Maven Central into ~/.m2): Checkstyle, then the
  // build with javac -Xlint -Werror and doclint, and the JUnit tests against the real sidecar (needs dist/).
  ['java checkstyle', 'mvn', ['-q', '-B', '-ntp', '-f', 'clients/java/pom.xml', 'checkstyle:check']],
  ['java verify', 'mvn', ['-B', '-ntp', '-f', 'clients/java/pom.xml', 'verify']],
  // Docs are tests: every code sample in README.md and docs/*.md runs, as written, against a real --dev sidecar, or
  // is marked partial/skip (docs/README.md). Needs dist/, the Python venv, Go and the Java build above.
  ['docs samples', process.execPath, ['scripts/doc-samples.mjs']],
];
const only = process.argv.slice(2);
for (const [name, cmd, args, opts] of steps) {
  if (only.length > 0 && !only.includes(name.split(' ')[0])) continue;
  console.log(`\n── ${name} ──`);
  const started = Date.now();
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', ...opts });
  if (r.status !== 0) {
    console.error(`\n✗ ${name} failed (exit ${r.status ?? r.signal})`);
    process.exit(r.status ?? 1);
  }
  console.log(`✓ ${name} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
}
