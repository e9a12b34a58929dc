/** The CLI itself: version, help, "did you mean" in a real terminal, shell completion. */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { tempDir } from '../helpers/app.js'
import { runCli } from '../helpers/cli.js'
import { plain, runCliInPty } from '../helpers/pty.js'

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'))

test('--version and -v print name, version, platform and node', async () => {
  for (const flag of ['--version', '-v']) {
    const r = await runCli([flag])
    assert.equal(r.code, 0)
    assert.equal(
      r.stdout,
      `allo-assist/${pkg.version} ${process.platform}-${process.arch} node-${process.version}\n`,
    )
  }
})

test('--help lists every command, and the generate topic once', async () => {
  const r = await runCli(['--help'])
  assert.equal(r.code, 0)
  for (const cmd of ['run', 'place', 'create', 'serve', 'fetch', 'upgrade', 'doctor', 'autocomplete'])
    assert.match(r.stdout, new RegExp(`^  ${cmd} `, 'm'), cmd)
  assert.match(r.stdout, /^TOPICS\n {2}generate /m)
  assert.doesNotMatch(
    r.stdout,
    /generate-systemd|generate-nginx/,
    'the dash spellings work but are not listed twice',
  )
  const topic = await runCli(['generate', '--help'])
  assert.match(topic.stdout, /generate nginx/)
  assert.match(topic.stdout, /generate systemd/)
})

test('a typo: in a terminal it asks "Did you mean run?" and runs it on yes; without one it exits 127', async () => {
  const cwd = tempDir()
  // the suggestion is coloured: match around the escape codes
  const tty = runCliInPty(['rnu'], { cwd, steps: [['Did you mean \\S*run\\S*\\?', 'y\r']] })
  assert.equal(tty.error, null, plain(tty.output))
  assert.match(plain(tty.output), /rnu is not a assist command/)
  assert.match(
    plain(tty.output),
    /No Alloverse app in .* looked for lua\/main\.lua/,
    'it ran `assist run` (here: in a folder with no app)',
  )
  const piped = await runCli(['rnu'], { cwd })
  assert.equal(piped.code, 127)
  assert.match(piped.stderr, /rnu is not a assist command/)
})

test('shell completion: assist autocomplete prints setup, and the script completes our commands', async () => {
  const env = { XDG_CACHE_HOME: tempDir() } // oclif writes its completion cache there
  const setup = await runCli(['autocomplete', 'bash'], { env })
  assert.equal(setup.code, 0, setup.stderr)
  assert.match(setup.stdout, /assist autocomplete script bash/)
  const script = await runCli(['autocomplete', 'script', 'bash'], { env })
  assert.equal(script.code, 0)
  assert.match(script.stdout, /ASSIST_AC_BASH_SETUP_PATH|assist/)
})
