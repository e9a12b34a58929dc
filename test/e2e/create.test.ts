/**
 * `assist create` end to end: the built CLI in temp folders, without a TTY (runCli gives it pipes),
 * checking the files it writes and that every refusal leaves the file system exactly as it was.
 */
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { planFiles } from '../../src/core/scaffold/render.js'
import { readTemplate } from '../../src/core/scaffold/templates.js'
import { RECORDING_BOOT_LUA, removeDir, tempDir, writeFile } from '../helpers/app.js'
import { CLI, runCli } from '../helpers/cli.js'
import { snapshot } from '../helpers/fs-snapshot.js'
import { BAD_NAMES } from '../helpers/names.js'
import { checkPng } from '../helpers/png.js'
import { TEMPLATE_FILES } from '../helpers/templates.js'

const ROOT = new URL('../..', import.meta.url).pathname
const GIT_ENV = {
  GIT_AUTHOR_NAME: 'Test Author',
  GIT_AUTHOR_EMAIL: 'test@example.com',
  GIT_COMMITTER_NAME: 'Test Author',
  GIT_COMMITTER_EMAIL: 'test@example.com',
}
const QUIET = ['--no-install', '--no-git']

function listFiles(dir: string): string[] {
  return snapshot(dir)
    .filter((l) => / f /.test(l))
    .map((l) => l.split(' ')[0])
}

for (const template of ['lua', 'minimal']) {
  test(`creates the ${template} template with flags: files, names substituted, valid info.json, executable shim`, async () => {
    const parent = tempDir()
    try {
      const display = 'The "Best" App \\ ünïcode'
      const r = await runCli(
        [
          'create',
          'hello-app',
          '--template',
          template,
          '--display-name',
          display,
          '--author',
          "O'Brien",
          ...QUIET,
        ],
        { cwd: parent },
      )
      assert.equal(r.code, 0, r.stderr + r.stdout)
      const app = join(parent, 'hello-app')
      assert.deepEqual(listFiles(app).sort(), [...TEMPLATE_FILES[template]].sort())
      assert.deepEqual(
        snapshot(parent).filter((l) => l.includes('.assist-')),
        [],
        'no temporary folder left',
      )
      for (const f of listFiles(app)) {
        const text = readFileSync(join(app, f))
        if (text.includes(0)) continue
        assert.doesNotMatch(text.toString(), /__[A-Z_]+__/, `placeholder left in ${f}`)
      }
      assert.deepEqual(JSON.parse(readFileSync(join(app, 'info.json'), 'utf8')), {
        display_name: display,
        author: "O'Brien",
      })
      const main = readFileSync(join(app, 'lua/main.lua'), 'utf8')
      assert.match(main, /Client\(arg\[2\], "hello-app"\)/)
      assert.equal(statSync(join(app, 'allo/assist')).mode & 0o777, 0o755)
      assert.equal(statSync(join(app, 'lua/main.lua')).mode & 0o777, 0o644)
      const gitignore = readFileSync(join(app, '.gitignore'), 'utf8')
      for (const p of [
        'allo/**/*.so',
        '*.dylib',
        '*.dll',
        '*.bundle',
        'allonet.cache',
        'builds.json',
        '*.log',
      ]) {
        assert.ok(gitignore.split('\n').includes(p), `.gitignore lacks ${p}`)
      }
      // Every Lua file compiles with real LuaJIT.
      for (const f of ['lua/main.lua', 'allo/boot.lua']) {
        execFileSync('luajit', ['-e', `assert(loadfile(${JSON.stringify(join(app, f))}))`])
      }
      if (template === 'lua') {
        const png = checkPng(readFileSync(join(app, 'images/quit.png')))
        assert.deepEqual(png, { width: 128, height: 128, bitDepth: 8, colorType: 6 })
        assert.match(main, /images\/quit\.png/)
        const readme = readFileSync(join(app, 'README.md'), 'utf8')
        assert.match(readme, /^# The "Best" App \\ ünïcode/)
        for (const cmd of ['assist run', 'assist serve', 'assist fetch']) assert.ok(readme.includes(cmd), cmd)
      }
      assert.match(r.stdout, /Next steps:\n {2}cd hello-app\n/)
      assert.match(r.stdout, /^ {2}assist run +run the app in the built-in place/m)
      assert.doesNotMatch(r.stdout, /alloplace:\/\/localhost/)
      assert.match(r.stdout, /assist serve/)
      assert.match(r.stdout, /assist fetch/)
    } finally {
      removeDir(parent)
    }
  })
}

test('both templates ship the one shared boot script, shim and lock (templates/_shared)', async () => {
  for (const name of ['lua', 'minimal']) {
    const plan = await planFiles(readTemplate(join(ROOT, 'templates', name)))
    for (const f of ['allo/boot.lua', 'allo/assist', 'allo/allonet.lock'])
      assert.equal(plan.find((p) => p.rel === f)?.src, join(ROOT, 'templates/_shared', f), `${name}: ${f}`)
  }
})

test('images/quit.png is what scripts/make-quit-png.mjs draws', () => {
  const out = join(tempDir(), 'q.png')
  execFileSync(process.execPath, [join(ROOT, 'scripts/make-quit-png.mjs'), out])
  assert.ok(readFileSync(out).equals(readFileSync(join(ROOT, 'templates/lua/images/quit.png'))))
  removeDir(join(out, '..'))
})

test('without a TTY and without --yes it never asks: defaults (name from the folder, git init)', async () => {
  const parent = tempDir()
  try {
    const r = await runCli(['create', 'clock', '--no-install'], { cwd: parent, env: GIT_ENV })
    assert.equal(r.code, 0, r.stderr)
    const info = JSON.parse(readFileSync(join(parent, 'clock/info.json'), 'utf8'))
    assert.equal(info.display_name, 'Clock')
    assert.ok(typeof info.author === 'string' && info.author.length > 0)
    assert.ok(existsSync(join(parent, 'clock/.git')), 'git init by default')
    const head = spawnSync('git', ['rev-parse', '--verify', 'HEAD'], { cwd: join(parent, 'clock') })
    assert.notEqual(head.status, 0, 'no commit without --commit')
    assert.match(r.stdout, /Initialised a git repository/)
  } finally {
    removeDir(parent)
  }
})

test('--commit makes one initial commit with every file; inside a repository no new one is made', async () => {
  const parent = tempDir()
  try {
    const r = await runCli(['create', 'clock', '--no-install', '--commit', '--author', 'A'], {
      cwd: parent,
      env: GIT_ENV,
    })
    assert.equal(r.code, 0, r.stderr)
    const app = join(parent, 'clock')
    const files = execFileSync('git', ['ls-files'], { cwd: app }).toString().trim().split('\n').sort()
    assert.deepEqual(files, [...TEMPLATE_FILES.lua].sort())
    assert.equal(execFileSync('git', ['rev-list', '--count', 'HEAD'], { cwd: app }).toString().trim(), '1')
    assert.equal(
      execFileSync('git', ['ls-files', '-s', 'allo/assist'], { cwd: app }).toString().slice(0, 6),
      '100755',
    )

    // Inside that repository: no nested repository.
    const inner = await runCli(['create', 'apps/inner', '--no-install', '--author', 'A'], {
      cwd: app,
      env: GIT_ENV,
    })
    assert.equal(inner.code, 0, inner.stderr)
    assert.equal(existsSync(join(app, 'apps/inner/.git')), false)
    assert.match(inner.stdout, /Inside an existing git repository/)
  } finally {
    removeDir(parent)
  }
})

test('--force adds the app to a folder with other files, keeping them', async () => {
  const parent = tempDir()
  try {
    const app = join(parent, 'clock')
    writeFile(join(app, 'notes.md'), 'mine')
    writeFile(join(app, 'lua/helper.lua'), 'return 1')
    const r = await runCli(['create', 'clock', '--force', ...QUIET], { cwd: parent })
    assert.equal(r.code, 0, r.stderr)
    assert.equal(readFileSync(join(app, 'notes.md'), 'utf8'), 'mine')
    assert.equal(readFileSync(join(app, 'lua/helper.lua'), 'utf8'), 'return 1')
    assert.ok(existsSync(join(app, 'lua/main.lua')))
    assert.match(r.stdout, /existing entries were left as they were/)
  } finally {
    removeDir(parent)
  }
})

test('creating into the current (empty) folder: no cd in the next steps', async () => {
  const parent = tempDir()
  try {
    const app = join(parent, 'clock')
    mkdirSync(app)
    const r = await runCli(['create', '.', ...QUIET], { cwd: app })
    assert.equal(r.code, 0, r.stderr)
    assert.ok(existsSync(join(app, 'lua/main.lua')))
    assert.doesNotMatch(r.stdout, /\n {2}cd /)
  } finally {
    removeDir(parent)
  }
})

/** Runs create in `parent` and checks it refuses with `message`, leaving `parent` exactly as it was. */
async function refuses(parent: string, args: string[], message: RegExp, env?: NodeJS.ProcessEnv) {
  const before = snapshot(parent)
  const r = await runCli(['create', ...args], { cwd: parent, env })
  assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`)
  assert.match(r.stderr, message)
  assert.equal(r.stderr.trim().split('\n').length, 1, `one line, no stack: ${r.stderr}`)
  assert.deepEqual(snapshot(parent), before, `${args.join(' ')} changed the file system`)
}

test('refusals leave the file system exactly as it was', async () => {
  const parent = tempDir()
  try {
    writeFile(join(parent, 'busy/readme.txt'), 'hi')
    writeFile(join(parent, 'clash/lua/main.lua'), 'print("mine")')
    writeFile(join(parent, 'clash/info.json'), '{}')
    writeFile(join(parent, 'afile'), 'x')
    for (const [bad] of BAD_NAMES) {
      await refuses(
        parent,
        ['newapp', '--name', bad, ...QUIET],
        /is not a valid app name: .*Try e\.g\. --name [a-z]/,
      )
    }
    await refuses(parent, ['My App', ...QUIET], /folder name "My App" is not a valid app name.*--name my-app/)
    await refuses(parent, ['busy', ...QUIET], /busy is not empty \(1 entry\).*--force/)
    await refuses(
      parent,
      ['clash', '--force', ...QUIET],
      /Refusing to overwrite existing files in .*clash: info\.json, lua\/main\.lua\./,
    )
    await refuses(
      parent,
      ['newapp', '--template', 'nope', ...QUIET],
      /Unknown template "nope": choose one of lua, minimal/,
    )
    await refuses(
      parent,
      ['newapp', '--template', './missing', ...QUIET],
      /--template \.\/missing: no such folder/,
    )
    await refuses(parent, ['afile', ...QUIET], /afile exists and is not a folder/)
    await refuses(parent, ['afile/sub/app', ...QUIET], /a part of that path is a file/)
    await refuses(parent, ['newapp', '--no-git', '--commit', '--no-install'], /--commit needs git/)
    await refuses(parent, ['newapp', '--display-name', 'a\nb', ...QUIET], /--display-name .* line break/)
    await refuses(parent, [...QUIET], /Say where to create the app/)
  } finally {
    removeDir(parent)
  }
})

test('an unwritable parent folder is refused and left as it was', async () => {
  const parent = tempDir()
  try {
    chmodSync(parent, 0o755)
    const ro = join(parent, 'ro')
    mkdirSync(ro)
    writeFileSync(join(ro, 'keep.txt'), 'x')
    chmodSync(ro, 0o555)
    const before = snapshot(parent)
    // root may write anywhere: run the CLI as nobody then (util-linux setpriv).
    const asRoot = process.getuid?.() === 0
    const argv = [CLI, 'create', join(ro, 'app'), ...QUIET]
    const r = spawnSync(
      asRoot ? 'setpriv' : process.execPath,
      asRoot ? ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, ...argv] : argv,
      { cwd: parent, env: { ...process.env, HOME: parent, NO_COLOR: '1' }, encoding: 'utf8' },
    )
    assert.equal(r.status, 2, r.stderr)
    assert.match(r.stderr, /Cannot create the app in .*ro: no permission to write there/)
    assert.deepEqual(snapshot(parent), before)
  } finally {
    removeDir(parent)
  }
})

test('the allo/assist shim runs the installed CLI from the app folder; run means run --no-watch', async () => {
  const parent = tempDir()
  try {
    const r = await runCli(['create', 'clock', ...QUIET], { cwd: parent })
    assert.equal(r.code, 0, r.stderr)
    const app = join(parent, 'clock')
    const shim = join(app, 'allo/assist')
    const env = { ...process.env, ALLO_ASSIST: CLI, NO_COLOR: '1' }

    const help = spawnSync(shim, ['--help'], { cwd: app, env, encoding: 'utf8' })
    assert.equal(help.status, 0, help.stderr)
    assert.match(help.stdout, /create/)
    assert.match(help.stdout, /run/)

    // Not installed: says how to install it, exit 127.
    const missing = spawnSync(shim, ['run', 'alloplace://localhost'], {
      cwd: app,
      env: { PATH: '/usr/bin:/bin', HOME: parent },
      encoding: 'utf8',
    })
    assert.equal(missing.status, 127)
    assert.match(missing.stderr, /npm ci && npm run build && npm link/)

    // `./allo/assist run URL` from anywhere: runs the app once (no watching) and ends with it.
    writeFile(join(app, 'allo/boot.lua'), RECORDING_BOOT_LUA)
    writeFile(join(app, 'allo/lib/liballonet.so'), 'stand-in library for tests\n')
    const run = spawnSync(shim, ['run', 'alloplace://localhost'], {
      cwd: parent,
      env: { ...env, TEST_APP_MODE: 'exit0', TEST_MARKER: 'shim' },
      encoding: 'utf8',
      timeout: 30_000,
    })
    assert.equal(run.status, 0, run.stderr + run.stdout)
    const rec = JSON.parse(readFileSync(join(app, 'record.json'), 'utf8'))
    assert.deepEqual(rec.args, [app, 'alloplace://localhost:21337'])
    assert.equal(rec.argv0, join(app, 'allo/boot.lua'))
    assert.equal(rec.marker, 'shim')
  } finally {
    removeDir(parent)
  }
})

test('the app folder honours the umask like mkdir (755 under 022, 750 under 027), not the temporary folder’s 700', async () => {
  for (const [mask, mode] of [
    [0o022, 0o755],
    [0o027, 0o750],
  ]) {
    const parent = tempDir()
    const old = process.umask(mask) // the CLI inherits it, as from a shell
    try {
      const r = await runCli(['create', 'app', ...QUIET], { cwd: parent })
      assert.equal(r.code, 0, r.stderr + r.stdout)
      assert.equal((statSync(join(parent, 'app')).mode & 0o777).toString(8), mode.toString(8))
      assert.equal((statSync(join(parent, 'app', 'lua')).mode & 0o777).toString(8), mode.toString(8))
    } finally {
      process.umask(old)
      removeDir(parent)
    }
  }
})
