#!/usr/bin/env node
// The container image recipe (native/sidecar/Dockerfile), checked without a Docker engine:
//
// 1. The Dockerfile is what the docs promise: a static program COPYed from the path the build
//    below writes, user 65532, a HEALTHCHECK through the program itself (no shell), the program
//    as ENTRYPOINT, and no RUN step (nothing executes at build time).
// 2. The program it copies is built exactly as that path says (cargo, release, the musl target
//    named by the Dockerfile's TARGET argument) and is static (no ELF interpreter).
// 3. That binary runs: --version, and the HEALTHCHECK's own command answers 0 against a sidecar it
//    started with the image's health address, and 1 when nothing listens.
// 4. examples/k8s runs that image with OTLP configured.
//
// Needs the musl target (rustup target add x86_64-unknown-linux-musl) and a musl C compiler
// (musl-gcc, Debian package musl-tools); .ci/run installs both. Usage: node scripts/check-image.mjs
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, openSync, readFileSync, readSync, closeSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const fail = (m) => {
  console.error(`[image] FAILED: ${m}`);
  process.exit(1);
};
const log = (m) => console.log(`[image] ${m}`);

// 1. The recipe.
const dockerfile = readFileSync(join(root, 'native', 'sidecar', 'Dockerfile'), 'utf8');
const lines = dockerfile
  .replace(/\\\n\s*/g, ' ')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l !== '' && !l.startsWith('#'));
const instr = (name) => lines.filter((l) => l.toUpperCase().startsWith(`${name} `));
const target = /^ARG TARGET=(\S+)$/.exec(instr('ARG').find((l) => l.startsWith('ARG TARGET=')) ?? '')?.[1];
if (target === undefined || !target.endsWith('-unknown-linux-musl')) fail('ARG TARGET=<arch>-unknown-linux-musl is missing');
const copy = instr('COPY');
if (copy.length !== 1) fail(`one COPY expected, found ${copy.length}`);
const [, src, dest] = copy[0].split(/\s+/);
const source = src.replace('${TARGET}', target);
if (source !== `target/${target}/release/coresdk-sidecar` || dest !== '/coresdk-sidecar') fail(`COPY ${src} ${dest}: not the program cargo builds`);
if (!instr('USER').some((l) => /^USER 65532(:65532)?$/.test(l))) fail('USER 65532 is missing');
if (instr('RUN').length > 0) fail('a RUN step: the image must need no shell');
const health = instr('HEALTHCHECK')[0] ?? fail('no HEALTHCHECK');
const healthCmd = JSON.parse(/CMD (\[.*\])$/.exec(health)?.[1] ?? fail('HEALTHCHECK must use the exec form (no shell)'));
if (healthCmd[0] !== '/coresdk-sidecar' || healthCmd[1] !== 'health') fail(`HEALTHCHECK runs ${healthCmd.join(' ')}`);
const entry = JSON.parse(/^ENTRYPOINT (\[.*\])$/.exec(instr('ENTRYPOINT')[0] ?? '')?.[1] ?? '[]');
if (entry[0] !== '/coresdk-sidecar') fail('ENTRYPOINT is not the program');
const healthEnv = /CORESDK_SIDECAR_HEALTH_ADDR=(\S+)/.exec(instr('ENV').join(' '))?.[1] ?? fail('the image sets no health address');
const healthPort = healthEnv.split(':').at(-1);
if (healthCmd[3] !== `127.0.0.1:${healthPort}`) fail(`HEALTHCHECK asks ${healthCmd[3]}, the health listener is ${healthEnv}`);
log(`recipe: static ${target} program, USER 65532, HEALTHCHECK ${healthCmd.slice(1).join(' ')}, no RUN`);

// 2. Build what it copies.
const env = { ...process.env };
const ccVar = `CC_${target.replaceAll('-', '_')}`;
if (env[ccVar] === undefined && spawnSync('musl-gcc', ['--version'], { stdio: 'ignore' }).status === 0) env[ccVar] = 'musl-gcc';
const built = spawnSync('cargo', ['build', '--release', '--locked', '--target', target, '-p', 'coresdk-sidecar', '--bin', 'coresdk-sidecar'], { cwd: root, env, stdio: 'inherit' });
if (built.status !== 0) fail(`cargo build --target ${target} failed (needs \`rustup target add ${target}\` and musl-gcc)`);
const binary = join(root, source);
if (!existsSync(binary)) fail(`${source} was not built`);
const head = Buffer.alloc(64);
const fd = openSync(binary, 'r');
readSync(fd, head, 0, 64, 0);
// ELF64: e_phoff at 32, e_phentsize at 54, e_phnum at 56; PT_INTERP (3) means dynamically linked.
const phoff = Number(head.readBigUInt64LE(32));
const phentsize = head.readUInt16LE(54);
const phnum = head.readUInt16LE(56);
const ph = Buffer.alloc(phentsize * phnum);
readSync(fd, ph, 0, ph.length, phoff);
closeSync(fd);
if (head.toString('latin1', 1, 4) !== 'ELF') fail(`${source} is not an ELF executable`);
for (let i = 0; i < phnum; i++) if (ph.readUInt32LE(i * phentsize) === 3) fail(`${source} is dynamically linked (it has an ELF interpreter)`);
log(`${source}: static ELF`);

// 3. It runs, and its HEALTHCHECK works.
const version = spawnSync(binary, ['--version'], { encoding: 'utf8' });
if (version.status !== 0 || !/^coresdk-sidecar \d+\.\d+\.\d+/.test(version.stdout)) fail(`--version: ${version.stdout}${version.stderr}`);
const port = await new Promise((resolve) => {
  const s = createServer().listen(0, '127.0.0.1', () => {
    const p = s.address().port;
    s.close(() => resolve(p));
  });
});
const args = (p) => healthCmd.slice(1).map((a) => (a === `127.0.0.1:${healthPort}` ? `127.0.0.1:${p}` : a));
const down = spawnSync(binary, args(port), { encoding: 'utf8', timeout: 20_000 });
if (down.status !== 1) fail(`HEALTHCHECK with nothing listening exited ${down.status}`);
const sidecar = spawn(binary, ['--insecure-dev', '--policy-dir', join(root, 'examples', 'policies'), '--addr', '127.0.0.1:0', '--health-addr', `127.0.0.1:${port}`], { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: '' } });
try {
  let up;
  for (let i = 0; i < 100; i++) {
    up = spawnSync(binary, args(port), { encoding: 'utf8', timeout: 20_000 });
    if (up.status === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  if (up?.status !== 0 || up.stdout.trim() !== 'SERVING') fail(`HEALTHCHECK against a serving sidecar: exit ${up?.status} ${up?.stdout}${up?.stderr}`);
  log(`${version.stdout.trim()}; HEALTHCHECK: 0 (SERVING) when up, 1 when nothing listens`);
} finally {
  sidecar.kill('SIGTERM');
}

// 4. The Kubernetes example runs this image, with OTLP export configured.
const k8s = readFileSync(join(root, 'examples', 'k8s', 'deployment.yaml'), 'utf8');
if (!/image: \S*coresdk-sidecar:/.test(k8s)) fail('examples/k8s does not run the coresdk-sidecar image');
if (!/OTEL_EXPORTER_OTLP_ENDPOINT/.test(k8s)) fail('examples/k8s configures no OTLP export for the sidecar');
log('examples/k8s: the coresdk-sidecar image, OTLP export configured');
log('passed');
