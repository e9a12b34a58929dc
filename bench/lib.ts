/** Shared helpers for `npm run bench`: statistics and the results table. */
import { cpus } from 'node:os'

export function quantile(values: number[], q: number): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))
  return sorted[idx]
}

export const median = (v: number[]) => quantile(v, 0.5)

export interface BenchRow {
  /** What was measured, e.g. "restart latency (ms)". */
  metric: string
  ours: number
  anchor: number
  /** Name of the anchor, e.g. "nodemon (default)". */
  anchorName: string
  /** Free text: goal and whether it was met. */
  note?: string
}

function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n)
  return Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 10 ? n.toFixed(1) : n.toFixed(2)
}

/** Prints a Markdown table: metric | ours | anchor | ratio ours/anchor | note. */
export function printTable(title: string, rows: BenchRow[]): void {
  console.log(`\n### ${title}\n`)
  console.log('| metric | ours | anchor | anchor value | ratio (ours/anchor) | note |')
  console.log('| --- | ---: | --- | ---: | ---: | --- |')
  for (const r of rows) {
    const ratio = r.anchor === 0 ? 'n/a' : `${fmt(r.ours / r.anchor)}×`
    console.log(
      `| ${r.metric} | ${fmt(r.ours)} | ${r.anchorName} | ${fmt(r.anchor)} | ${ratio} | ${r.note ?? ''} |`,
    )
  }
}

export function machineLine(): string {
  const cpu = cpus()[0]?.model ?? 'unknown CPU'
  return `${cpus().length} × ${cpu}, Node ${process.version}, ${process.platform}-${process.arch}`
}
