import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, dirname, join } from 'node:path'
import { test } from 'node:test'
import fc from 'fast-check'
import {
  findConflicts,
  outputPath,
  type PlannedFile,
  planFiles,
  RenderTransaction,
  renderText,
  writeFiles,
} from '../../../src/core/scaffold/render.js'
import { listTemplates, readTemplate } from '../../../src/core/scaffold/templates.js'
import { removeDir, tempDir, writeFile } from '../../helpers/app.js'
import { snapshot } from '../../helpers/fs-snapshot.js'
import { TEMPLATE_FILES } from '../../helpers/templates.js'

const values = { name: 'my-app', displayName: 'Say "hi" \\ it\'s ]] 🚀', author: 'Ada' }

test('placeholders are replaced, escaped for JSON in .json files', () => {
  const out = renderText(
    'info.json',
    '{"display_name": "__DISPLAY_NAME__", "author": "__AUTHOR__", "n": "__PROJNAME__"}',
    values,
  )
  assert.deepEqual(JSON.parse(out), { display_name: values.displayName, author: 'Ada', n: 'my-app' })
})

test('placeholders in .lua files are Lua string escapes: real luajit reads back the exact text', () => {
  const dir = tempDir()
  try {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 40 }).filter((s) => !s.includes('\0')),
        (text) => {
          const src = renderText('x.lua', 'io.write("__DISPLAY_NAME__") io.write(\'|__DISPLAY_NAME__\')', {
            ...values,
            displayName: text,
          })
          writeFile(join(dir, 'x.lua'), src)
          const printed = execFileSync('luajit', [join(dir, 'x.lua')]).toString('utf8')
          assert.equal(printed, `${text}|${text}`)
        },
      ),
      { numRuns: 60 },
    )
  } finally {
    removeDir(dir)
  }
})

test('other files get the text as is; unknown __X__ markers are left alone', () => {
  assert.equal(
    renderText('README.md', '# __DISPLAY_NAME__ by __AUTHOR__ __OTHER__', values),
    `# ${values.displayName} by Ada __OTHER__`,
  )
})

test('_gitignore becomes .gitignore, at any depth', () => {
  assert.equal(outputPath('_gitignore'), '.gitignore')
  assert.equal(outputPath('sub/_gitignore'), 'sub/.gitignore')
  assert.equal(outputPath('lua/main.lua'), 'lua/main.lua')
})

test('planFiles lists every template file except template.json, with modes', async () => {
  const lua = readTemplate(new URL('../../../templates/lua', import.meta.url).pathname)
  const files = await planFiles(lua)
  assert.deepEqual(
    files.map((f) => f.rel),
    [...TEMPLATE_FILES.lua].sort((a, b) => a.localeCompare(b)),
  )
  assert.equal(files.find((f) => f.rel === 'allo/assist')?.mode, 0o755)
  assert.equal(files.find((f) => f.rel === 'lua/main.lua')?.mode, 0o644)
})

function plan(dir: string, files: Record<string, string>): PlannedFile[] {
  return Object.entries(files).map(([rel, content]) => {
    writeFile(join(dir, rel), content)
    return { src: join(dir, rel), rel, mode: 0o644 }
  })
}

test('findConflicts: existing files, and files where folders must go', () => {
  const src = tempDir()
  const target = tempDir()
  try {
    const files = plan(src, { 'a.txt': 'a', 'lua/main.lua': 'm', 'images/x.png': 'p', 'deep/er/f': 'f' })
    writeFile(join(target, 'a.txt'), 'mine')
    writeFile(join(target, 'lua/other.lua'), 'ok') // lua/ exists as a folder: fine
    writeFile(join(target, 'images'), 'a file where a folder goes')
    mkdirSync(join(target, 'deep'))
    assert.deepEqual(findConflicts(files, target), ['a.txt', 'images'])
    assert.deepEqual(findConflicts(files, join(target, 'nope')), [])
  } finally {
    removeDir(src)
    removeDir(target)
  }
})

test('a render into a new folder appears all at once; a failure leaves nothing (also new parents)', async () => {
  const src = tempDir()
  const parent = tempDir()
  try {
    const files = plan(src, { 'a.txt': '__PROJNAME__', 'b/c.txt': 'c' })
    const before = snapshot(parent)
    // Failure in the middle: the second file's source vanished.
    const broken = [...files, { src: join(src, 'missing'), rel: 'z.txt', mode: 0o644 }]
    const tx = new RenderTransaction(join(parent, 'new', 'deeper', 'app'))
    const temp = await tx.begin()
    await assert.rejects(writeFiles(broken, temp, values))
    tx.rollback()
    assert.deepEqual(snapshot(parent), before)

    const ok = new RenderTransaction(join(parent, 'app'))
    const temp2 = await ok.begin()
    await writeFiles(files, temp2, values)
    assert.equal(existsSync(join(parent, 'app')), false, 'nothing in place before commit')
    ok.commit()
    ok.rollback() // after commit: does nothing
    assert.equal(readFileSync(join(parent, 'app/a.txt'), 'utf8'), 'my-app')
    assert.deepEqual(readdirSync(parent), ['app'], 'no temporary folder left')
  } finally {
    removeDir(src)
    removeDir(parent)
  }
})

test('merging into an existing folder keeps its files; rollback takes back exactly what was moved', async () => {
  const src = tempDir()
  const target = tempDir()
  try {
    const files = plan(src, { 'a.txt': 'a', 'lua/main.lua': 'm' })
    writeFile(join(target, 'lua/other.lua'), 'mine')
    writeFile(join(target, 'notes.md'), 'mine')
    const before = snapshot(target)
    const tx = new RenderTransaction(target)
    await writeFiles(files, await tx.begin(), values)
    tx.commit()
    assert.equal(readFileSync(join(target, 'lua/other.lua'), 'utf8'), 'mine')
    assert.equal(readFileSync(join(target, 'lua/main.lua'), 'utf8'), 'm')
    assert.equal(statSync(join(target, 'notes.md')).isFile(), true)

    // A failed merge (a conflicting file appears after the check) is rolled back completely.
    const target2 = tempDir()
    writeFile(join(target2, 'lua/other.lua'), 'mine')
    const tx2 = new RenderTransaction(target2)
    const temp = await tx2.begin()
    await writeFiles([...files, ...plan(src, { 'z/late.txt': 'z' })], temp, values)
    writeFile(join(target2, 'z/late.txt'), 'appeared meanwhile')
    const before2 = snapshot(target2)
    assert.throws(() => tx2.commit(), /appeared while creating the app/)
    assert.deepEqual(snapshot(target2), before2)
    assert.deepEqual(
      readdirSync(dirname(target2)).filter((e) => e.startsWith(`.${basename(target2)}.assist-`)),
      [],
      'temporary folder removed',
    )
    assert.ok(before.length > 0)
    removeDir(target2)
  } finally {
    removeDir(src)
    removeDir(target)
  }
})

test('included folders are laid under a template; its own files win; "_" folders are not templates', async () => {
  const root = mkdtempSync(join(tmpdir(), 'assist-tpl-'))
  try {
    mkdirSync(join(root, '_shared/allo'), { recursive: true })
    writeFileSync(join(root, '_shared/allo/boot.lua'), 'shared boot')
    writeFileSync(join(root, '_shared/info.json'), 'shared info')
    mkdirSync(join(root, 'mine/lua'), { recursive: true })
    writeFileSync(join(root, 'mine/lua/main.lua'), 'main')
    writeFileSync(join(root, 'mine/info.json'), 'own info')
    writeFileSync(join(root, 'mine/template.json'), JSON.stringify({ include: ['../_shared'] }))
    const templates = listTemplates(root)
    assert.deepEqual(
      templates.map((t) => t.name),
      ['mine'],
    )
    const files = await planFiles(templates[0])
    assert.deepEqual(
      files.map((f) => [f.rel, readFileSync(f.src, 'utf8')]),
      [
        ['allo/boot.lua', 'shared boot'],
        ['info.json', 'own info'],
        ['lua/main.lua', 'main'],
      ],
    )
    writeFileSync(join(root, 'mine/template.json'), JSON.stringify({ include: ['../missing'] }))
    assert.throws(() => listTemplates(root), /"include" names .*missing, which is not a folder/)
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
})
