/** The CLI itself: version, help, "did you mean" in a real terminal, shell completion. */
import assert from 'node:assert/strict'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
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
  for (const cmd of ['run', 'place', 'view', 'create', 'serve', 'fetch', 'upgrade', 'doctor', 'autocomplete'])
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

test('the root help is rendered by oclif once, then printed from the kept text, for every way of asking', async () => {
  const cacheHome = tempDir()
  const dir = join(cacheHome, 'allo-assist', 'help')
  const env = { XDG_CACHE_HOME: cacheHome }
  const kept = () => readdirSync(dir).filter((f) => f.endsWith('.txt'))

  const live = await runCli(['--help'], { env: { ...env, ASSIST_NO_HELP_CACHE: '1' } })
  assert.equal(live.code, 0, live.stderr)
  assert.throws(() => readdirSync(dir), 'ASSIST_NO_HELP_CACHE=1 neither reads nor writes the cache')

  const first = await runCli(['--help'], { env })
  assert.equal(first.code, 0, first.stderr)
  assert.equal(first.stdout, live.stdout, "the first request is oclif's own rendering")
  assert.equal(kept().length, 1)
  const [file] = kept()
  assert.match(file, /^help-root_.*_pipe_plain\.txt$/, 'the root help, not a terminal, no colour')
  assert.equal(readFileSync(join(dir, file), 'utf8'), live.stdout)

  // Every later root-help request prints the kept text (proved by changing it).
  writeFileSync(join(dir, file), 'KEPT HELP\n')
  for (const args of [['--help'], ['-h'], ['help'], []]) {
    const r = await runCli(args, { env })
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`)
    assert.equal(r.stdout, 'KEPT HELP\n', `assist ${args.join(' ')} prints the kept help`)
  }
  // Another width is another input: rendered by oclif at that width, kept beside the first.
  const narrowEnv = { ...env, OCLIF_COLUMNS: '50' }
  const narrowLive = await runCli(['--help'], { env: { ...narrowEnv, ASSIST_NO_HELP_CACHE: '1' } })
  const narrow = await runCli(['--help'], { env: narrowEnv })
  assert.equal(narrow.stdout, narrowLive.stdout)
  assert.notEqual(narrow.stdout, live.stdout, 'wrapped at 50 columns')
  assert.ok(narrow.stdout.split('\n').length > live.stdout.split('\n').length, 'more, shorter lines')
  assert.equal(kept().length, 2)
})

test("a command's or topic's help is kept the same way, per command; a typo never is", async () => {
  const cacheHome = tempDir()
  const dir = join(cacheHome, 'allo-assist', 'help')
  const env = { XDG_CACHE_HOME: cacheHome }
  const kept = () => readdirSync(dir).filter((f) => f.endsWith('.txt'))
  const off = { ...env, ASSIST_NO_HELP_CACHE: '1' }

  for (const args of [
    ['run', '--help'],
    ['generate', 'systemd', '-h'],
    ['generate', '--help'],
    ['help', 'serve'],
  ]) {
    const live = await runCli(args, { env: off })
    const first = await runCli(args, { env })
    assert.equal(first.code, 0, first.stderr)
    assert.equal(first.stdout, live.stdout, `${args.join(' ')}: the first request is oclif's own rendering`)
  }
  assert.equal(kept().length, 4, 'one kept text per help')
  const runFile = kept().find((f) => f.startsWith('help-run_'))
  assert.ok(runFile, kept().join(' '))
  assert.match(readFileSync(join(dir, runFile), 'utf8'), /^USAGE\n {2}\$ assist run/m)

  // The kept text is what a later request prints (proved by changing it); the others are untouched.
  writeFileSync(join(dir, runFile), 'KEPT RUN HELP\n')
  assert.equal((await runCli(['run', '--help'], { env })).stdout, 'KEPT RUN HELP\n')
  assert.match((await runCli(['serve', '--help'], { env })).stdout, /assist serve/, 'another help, rendered')

  // A typo is answered by the command_not_found hook (exit 2 with a suggestion), and nothing is kept for it.
  const before = kept().length
  const typo = await runCli(['rnu', '--help'], { env })
  assert.notEqual(typo.code, 0)
  assert.equal(kept().length, before)
})

test('the root help still prints when its cache cannot be written', async () => {
  const notADir = join(tempDir(), 'file')
  writeFileSync(notADir, 'x')
  const r = await runCli(['--help'], { env: { XDG_CACHE_HOME: notADir } })
  assert.equal(r.code, 0)
  assert.equal(r.stderr, '')
  assert.match(r.stdout, /^COMMANDS$/m)
})

test('-h is --help for commands too', async () => {
  const short = await runCli(['run', '-h'])
  const long = await runCli(['run', '--help'])
  assert.equal(short.code, 0, short.stderr)
  assert.equal(short.stdout, long.stdout)
})

test('in a terminal, the kept root help is the one oclif rendered there (colour and width included)', () => {
  const cwd = tempDir()
  const env = { XDG_CACHE_HOME: tempDir() }
  const first = runCliInPty(['--help'], { cwd, env, steps: [] })
  const second = runCliInPty(['--help'], { cwd, env, steps: [] })
  assert.equal(first.error, null)
  assert.equal(second.error, null)
  assert.match(plain(first.output), /^COMMANDS$/m)
  assert.equal(second.output, first.output)
  const [file] = readdirSync(join(env.XDG_CACHE_HOME, 'allo-assist', 'help'))
  assert.doesNotMatch(file, /_pipe_/, 'keyed by the terminal width')
  // biome-ignore lint/suspicious/noControlCharactersInRegex: looking for oclif's bold headers
  const bold = /\u001b\[1m/.test(first.output)
  assert.equal(file.endsWith('_color.txt'), bold, 'keyed by whether oclif coloured it')
})

test('a typo: in a terminal it offers the closest command and runs it on yes; without one it exits 2', async () => {
  const cwd = tempDir()
  const tty = runCliInPty(['rnu'], { cwd, steps: [['Run `assist run` instead\\?', 'y\r']] })
  assert.equal(tty.error, null, plain(tty.output))
  assert.match(plain(tty.output), /✖ rnu is not an assist command\./)
  assert.match(
    plain(tty.output),
    /No Alloverse app in .* looked for lua\/main\.lua/,
    'it ran `assist run` (here: in a folder with no app)',
  )
  const piped = await runCli(['rnu'], { cwd })
  assert.equal(piped.code, 2)
  assert.match(piped.stderr, /rnu is not an assist command\. Did you mean `assist run`\? Commands: /)
  // No: the list of commands instead, exit 2.
  const no = runCliInPty(['rnu'], { cwd, steps: [['Run `assist run` instead\\?', 'n\r']] })
  assert.equal(no.error, null, plain(no.output))
  assert.equal(no.code, 2)
  assert.match(plain(no.output), /Commands: .*\brun\b.*See `assist help`\./)
  assert.doesNotMatch(plain(no.output), /No Alloverse app/, 'nothing ran')
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
