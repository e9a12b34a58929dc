#!/usr/bin/env node
// Bundles the web view's page (src/view-ui, three.js) into dist/view with esbuild, at build time:
// nothing is fetched from the internet when the page runs.
import { copyFileSync, mkdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const root = fileURLToPath(new URL('..', import.meta.url))
const out = `${root}dist/view`
mkdirSync(out, { recursive: true })
await build({
  entryPoints: [`${root}src/view-ui/main.ts`],
  bundle: true,
  format: 'esm',
  target: 'es2022',
  minify: true,
  sourcemap: true,
  outfile: `${out}/app.js`,
  logLevel: 'warning',
  legalComments: 'linked',
})
copyFileSync(`${root}src/view-ui/index.html`, `${out}/index.html`)
copyFileSync(`${root}src/view-ui/app.css`, `${out}/app.css`)
