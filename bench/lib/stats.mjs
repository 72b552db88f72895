// Shared statistics and formatting for the benchmarks.
import { cpus, totalmem } from 'node:os'

/**
 * Nearest-rank percentile of an ascending-sorted array (p in [0, 100]).
 * @param {ArrayLike<number>} sorted
 * @param {number} p
 */
export function percentile(sorted, p) {
  const n = sorted.length
  if (n === 0) return NaN
  const rank = Math.ceil((p / 100) * n)
  return sorted[Math.min(n - 1, Math.max(0, rank - 1))]
}

/**
 * Concatenates per-call latency samples (nanoseconds, each a Float64Array or plain array of
 * used length) into one sorted Float64Array.
 * @param {Array<{ lat: Float64Array, n: number }>} parts
 */
export function mergeSorted(parts) {
  const total = parts.reduce((s, p) => s + p.n, 0)
  const all = new Float64Array(total)
  let off = 0
  for (const p of parts) {
    all.set(p.lat.subarray(0, p.n), off)
    off += p.n
  }
  return all.sort()
}

/**
 * Summarises one measurement.
 * @param {Array<{ lat: Float64Array, n: number, elapsedNs: number, thread?: number }>} parts
 *   samples, one per thread per round; `thread` (default 0) says which concurrent thread made them
 * @returns {{ n: number, p50Us: number, p99Us: number, meanUs: number, maxUs: number, opsPerSec: number }}
 *   opsPerSec: each thread's calls / time over all its rounds, summed over the concurrent threads.
 */
export function summarize(parts) {
  const sorted = mergeSorted(parts)
  let sum = 0
  for (let i = 0; i < sorted.length; i++) sum += sorted[i]
  const perThread = new Map()
  for (const p of parts) {
    const t = perThread.get(p.thread ?? 0) ?? { n: 0, ns: 0 }
    t.n += p.n
    t.ns += p.elapsedNs
    perThread.set(p.thread ?? 0, t)
  }
  return {
    n: sorted.length,
    p50Us: percentile(sorted, 50) / 1e3,
    p99Us: percentile(sorted, 99) / 1e3,
    meanUs: sum / sorted.length / 1e3,
    maxUs: sorted[sorted.length - 1] / 1e3,
    opsPerSec: [...perThread.values()].reduce((s, t) => s + t.n / (t.ns / 1e9), 0),
  }
}

/** Microseconds with precision that suits the magnitude. */
export function fmtUs(us) {
  if (!Number.isFinite(us)) return '–'
  if (us < 10) return us.toFixed(2)
  if (us < 100) return us.toFixed(1)
  return Math.round(us).toLocaleString('en-US')
}

/** Operations per second, grouped by thousands. */
export function fmtOps(ops) {
  if (!Number.isFinite(ops)) return '–'
  return Math.round(ops).toLocaleString('en-US')
}

/** A ratio such as "3.42×", or "–". */
export function fmtRatio(r) {
  if (!Number.isFinite(r)) return '–'
  return `${r >= 10 ? r.toFixed(1) : r.toFixed(2)}×`
}

/**
 * Renders a GitHub-flavoured markdown table.
 * @param {string[]} headers
 * @param {Array<Array<string|number>>} rows
 * @param {Array<'l'|'r'>} [align] per column, default left
 */
export function markdownTable(headers, rows, align = []) {
  const sep = headers.map((_, i) => (align[i] === 'r' ? '---:' : '---'))
  const line = (cells) => `| ${cells.map((c) => String(c)).join(' | ')} |`
  return [line(headers), line(sep), ...rows.map(line)].join('\n')
}

/** A short description of the machine, for reports. */
export function machineInfo() {
  const cpuList = cpus()
  return {
    node: process.version,
    v8: process.versions.v8,
    platform: `${process.platform}-${process.arch}`,
    cpu: cpuList[0]?.model?.trim() ?? 'unknown',
    logicalCpus: cpuList.length,
    memGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
  }
}
