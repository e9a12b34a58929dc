/**
 * The documentation holds together: every relative link and #anchor resolves (GitHub's slugs), the
 * generated command reference is current with the commands' definitions (needs `npm run build`),
 * the README's quickstart installs the same system packages CI installs and runs the same test
 * command, and the user docs keep contributor material out.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { anchorsOf, brokenLinks, githubSlug, headingText, linksOf } from '../helpers/markdown.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const docs = readdirSync(join(root, 'docs'))
  .filter((f) => f.endsWith('.md'))
  .map((f) => join(root, 'docs', f))
const checked = [join(root, 'README.md'), join(root, 'CONTRIBUTING.md'), join(root, 'BENCHMARKS.md'), ...docs]
const read = (rel: string) => readFileSync(join(root, rel), 'utf8')

test("headings get GitHub's anchors", () => {
  const cases: Array<[string, string]> = [
    ['`assist run [URL]`', 'assist-run-url'],
    ['The gateway (`assist serve`)', 'the-gateway-assist-serve'],
    ['Apps made for the old `./allo/assist`', 'apps-made-for-the-old-alloassist'],
    ['alloapp.json', 'alloappjson'],
    ['Hot reload: what is watched', 'hot-reload-what-is-watched'],
    [
      '`assist fetch` / `assist upgrade` / `assist doctor` — native dependencies',
      'assist-fetch--assist-upgrade--assist-doctor--native-dependencies',
    ],
    ['**Bold** and [a link](x.md) and snake_case', 'bold-and-a-link-and-snake_case'],
  ]
  for (const [heading, slug] of cases) assert.equal(githubSlug(headingText(heading)), slug, heading)
  const md =
    '# Title\n\n## Troubleshooting\n\n```md\n## Not a heading\n```\n\n### Troubleshooting\n<a name="x-y"></a>\n'
  assert.deepEqual([...anchorsOf(md)].sort(), ['title', 'troubleshooting', 'troubleshooting-1', 'x-y'])
})

test('links are found outside code only, images and reference definitions included', () => {
  const md = [
    'See [`assist run [URL]`](commands.md#assist-run-url) and ![pic](a.png "title").',
    'Not `[this](x.md)`, nor:',
    '```',
    '[that](y.md)',
    '```',
    '[ref]: other.md#part',
  ].join('\n')
  assert.deepEqual(
    linksOf(md).map((l) => `${l.line} ${l.target}`),
    ['1 commands.md#assist-run-url', '1 a.png', '6 other.md#part'],
  )
})

test('the link check reports a missing file, a missing anchor and an anchor into a non-Markdown file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'assist-links-'))
  try {
    mkdirSync(join(dir, 'sub'))
    writeFileSync(join(dir, 'sub', 'b.md'), '# B\n\n## Part two\n')
    writeFileSync(join(dir, 'pic.png'), '')
    writeFileSync(
      join(dir, 'a.md'),
      [
        '# A',
        '[ok](sub/b.md#part-two) [ok](#a) [ok](sub) [ok](https://example.com/x#y) [ok](pic.png)',
        '[gone](sub/c.md)',
        '[no anchor](sub/b.md#part-three)',
        '[not md](pic.png#x)',
        '[self](#nowhere)',
      ].join('\n'),
    )
    assert.deepEqual(brokenLinks([join(dir, 'a.md')], dir), [
      'a.md:3: sub/c.md — sub/c.md does not exist',
      'a.md:4: sub/b.md#part-three — sub/b.md has no heading with the anchor #part-three',
      'a.md:5: pic.png#x — an anchor into something that is not a Markdown file',
      'a.md:6: #nowhere — a.md has no heading with the anchor #nowhere',
    ])
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('every relative link and anchor in README.md, CONTRIBUTING.md, BENCHMARKS.md and docs/*.md resolves', () => {
  for (const f of ['docs/commands.md', 'docs/hosting.md', 'docs/troubleshooting.md', 'docs/architecture.md'])
    assert.ok(checked.includes(join(root, f)), f)
  assert.deepEqual(brokenLinks(checked, root), [])
})

function commandsDoc(...args: string[]) {
  return spawnSync(process.execPath, [join(root, 'scripts/commands-doc.mjs'), ...args], { encoding: 'utf8' })
}

test('docs/commands.md is what `oclif readme` generates from the commands now', () => {
  const r = commandsDoc('--check')
  assert.equal(r.status, 0, `${r.stderr}${r.stdout}`)
  const md = read('docs/commands.md')
  for (const id of [
    'run',
    'place',
    'create',
    'serve',
    'generate systemd',
    'generate nginx',
    'fetch',
    'upgrade',
    'doctor',
  ])
    assert.match(md, new RegExp(`^## \`assist ${id}( \\[[A-Z]+\\])?\`$`, 'm'), id)
})

test('a stale command reference fails the check with a one-line fix, and is left as it was', () => {
  const dir = mkdtempSync(join(tmpdir(), 'assist-commands-'))
  try {
    const stale = join(dir, 'commands.md')
    const current = read('docs/commands.md')
    const edited = current.replace('Run this app against a place', 'Run this app somewhere')
    assert.notEqual(edited, current)
    writeFileSync(stale, edited)
    const r = commandsDoc('--check', '--file', stale)
    assert.equal(r.status, 1)
    assert.match(r.stderr, /^✖ .*commands\.md is out of date .*npm run docs:commands/)
    assert.equal(r.stderr.trim().split('\n').length, 1)
    assert.equal(readFileSync(stale, 'utf8'), edited)

    writeFileSync(stale, '# no markers\n')
    const m = commandsDoc('--check', '--file', stale)
    assert.equal(m.status, 1)
    assert.match(m.stderr, /lacks the <!-- commands --> … <!-- commandsstop --> markers/)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test("the README's quickstart is two commands; the second installs CI's system packages (as CONTRIBUTING.md does) and runs CI's test command", () => {
  const readme = read('README.md')
  const section = readme.slice(
    readme.indexOf('## Quickstart'),
    readme.indexOf('\n## ', readme.indexOf('## Quickstart') + 1),
  )
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1].trim().split('\n')
  assert.ok(block, 'a sh block in the Quickstart')
  assert.equal(block.length, 2, block.join('\n'))
  assert.match(block[0], /^npm ci && npm run build && npm start$/)
  const apt = (line: string) => {
    const m = /apt-get install ([^&\n]*?)(?:&&|$)/.exec(line.replace(/\\\n/g, ' '))
    assert.ok(m, line)
    return m[1]
      .split(/\s+/)
      .filter((w) => /^[a-z0-9][a-z0-9.+-]*$/.test(w))
      .sort()
  }
  const ci = read('.ci/run')
  const ciInstall = /apt-get install[^\n]*\\\n([^\n]*)/.exec(ci)
  assert.ok(ciInstall, 'the apt-get install line in .ci/run')
  assert.deepEqual(apt(block[1]), apt(`apt-get install ${ciInstall[1]}`))
  const contributing = /^sudo apt-get install .*$/m.exec(read('CONTRIBUTING.md'))
  assert.ok(contributing, "CONTRIBUTING.md's apt-get line")
  assert.deepEqual(apt(contributing[0]), apt(block[1]), 'CONTRIBUTING.md names the same packages')
  const testCommand = block[1].split('&&').at(-1)?.trim()
  assert.equal(testCommand, 'npm test')
  assert.match(ci, /^npm test$/m, '.ci/run runs the same test command')
})

test('user docs keep contributor material out', () => {
  const user = [join(root, 'README.md'), ...docs].filter(
    (f) => !/docs\/(architecture|compatibility-audit)\.md$/.test(f),
  )
  const internal =
    /\bissues?\b|__assistView|ASSIST_SYSTEMD_DIR|UPDATE_GOLDEN|for tests|\bsrc\/(core|commands|view-ui)\b|alloverse\/traces/i
  for (const f of user) {
    const hits = readFileSync(f, 'utf8')
      .split('\n')
      .map((l, i) => ({ l, i }))
      .filter(({ l }) => internal.test(l))
      .map(({ l, i }) => `${f.slice(root.length)}:${i + 1}: ${l.trim()}`)
    assert.deepEqual(hits, [], hits.join('\n'))
  }
})
