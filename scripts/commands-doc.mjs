#!/usr/bin/env node
// docs/commands.md's command reference is generated from the oclif manifest by `oclif readme`
// (between <!-- commands --> and <!-- commandsstop -->; the text around the markers is written by
// hand). `npm run docs:commands` rewrites it after a change to a command's flags, description or
// examples; `--check` (run by the tests) only says whether the file is current, so it cannot drift
// from `--help`. `--file PATH` checks or rewrites another copy. Needs `npm run build` first.
import { spawnSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const args = process.argv.slice(2)
const check = args.includes('--check')
const fileAt = args.indexOf('--file')
const target = fileAt >= 0 ? args[fileAt + 1] : join(root, 'docs/commands.md')

function fail(message) {
  process.stderr.write(`✖ ${message}\n`)
  process.exit(1)
}

if (!existsSync(join(root, 'oclif.manifest.json'))) fail('No oclif.manifest.json: run `npm run build` first.')
if (!existsSync(target)) fail(`${target} does not exist.`)
const before = readFileSync(target, 'utf8')
if (!before.includes('<!-- commands -->') || !before.includes('<!-- commandsstop -->'))
  fail(`${target} lacks the <!-- commands --> … <!-- commandsstop --> markers the reference goes between.`)

const work = mkdtempSync(join(tmpdir(), 'assist-commands-doc-'))
try {
  const copy = join(work, 'commands.md')
  copyFileSync(target, copy)
  const r = spawnSync(
    process.execPath,
    [
      join(root, 'node_modules/oclif/bin/run.js'),
      'readme',
      '--readme-path',
      copy,
      '--plugin-directory',
      root,
      '--no-source-links',
    ],
    {
      cwd: root,
      encoding: 'utf8',
      // Fixed width and no colour, so the file is the same on every machine; no update check.
      env: { ...process.env, COLUMNS: '100', NO_COLOR: '1', OCLIF_SKIP_NEW_VERSION_CHECK: 'true' },
    },
  )
  if (r.status !== 0) fail(`oclif readme failed (${r.status ?? r.signal}):\n${r.stderr}${r.stdout}`)
  const after = readFileSync(copy, 'utf8')
  if (check) {
    if (after !== before)
      fail(
        `${target} is out of date with the commands' definitions: run \`npm run build && npm run docs:commands\` and commit it.`,
      )
    process.stdout.write(`${target} is current.\n`)
  } else if (after === before) {
    process.stdout.write(`${target} was already current.\n`)
  } else {
    copyFileSync(copy, target)
    process.stdout.write(`Wrote ${target}.\n`)
  }
} finally {
  rmSync(work, { recursive: true, force: true })
}
