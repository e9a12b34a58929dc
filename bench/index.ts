/**
 * `npm run bench`: runs every bench/*.bench.ts (or those named on the command line) in order.
 * Each module's default export is an async function that prints its own table with printTable().
 */
import { readdirSync } from 'node:fs'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { machineLine } from './lib.js'

const dir = fileURLToPath(new URL('.', import.meta.url))
const only = process.argv.slice(2)
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => only.length === 0 || only.some((o) => f.startsWith(o)))
  .sort()

console.log(`# allo-assist benchmarks\n\nMachine: ${machineLine()}; ${new Date().toISOString()}`)
for (const file of files) {
  const mod = (await import(pathToFileURL(`${dir}/${file}`).href)) as { default: () => Promise<void> }
  await mod.default()
}
