/** The steps with a scripted prompter (no TTY): what is asked, in which order, and what flags skip. */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import { buildContext, type CreateOptions, type Prompter } from '../../../src/core/scaffold/context.js'
import { allouiInstallPlan, followUpCommand } from '../../../src/core/scaffold/dependencies.js'
import { infoStep, nameStep } from '../../../src/core/scaffold/name.js'
import { nextStepsText } from '../../../src/core/scaffold/next-steps.js'
import { listTemplates, templateStep } from '../../../src/core/scaffold/templates.js'
import { removeDir, tempDir, writeFile } from '../../helpers/app.js'

const TEMPLATES = new URL('../../../templates', import.meta.url).pathname

/** Answers questions from a list; records each question's message and default. */
function scripted(answers: Array<string | boolean>) {
  const asked: string[] = []
  const next = (message: string, def: unknown) => {
    asked.push(`${message} [${String(def)}]`)
    if (answers.length === 0) throw new Error(`unexpected question: ${message}`)
    return answers.shift()
  }
  const prompter: Prompter = {
    input: async (q) => {
      const a = next(q.message, q.default) as string
      const v = q.validate?.(a === '' ? (q.default ?? '') : a)
      if (v !== undefined && v !== true) throw new Error(`validation: ${v}`)
      return a
    },
    select: async (q) => next(q.message, q.default) as never,
    confirm: async (q) => next(q.message, q.default) as boolean,
  }
  return { prompter, asked }
}

function ctxFor(options: CreateOptions, answers?: Array<string | boolean>) {
  const s = answers ? scripted(answers) : undefined
  const ctx = buildContext({
    cwd: '/home/me/apps',
    options,
    tty: s !== undefined,
    prompter: s ? () => s.prompter : undefined,
    templatesDir: TEMPLATES,
    log: () => {},
  })
  ctx.defaultAuthor = async () => 'Default Author'
  return { ctx, asked: s?.asked ?? [] }
}

test('templates are discovered from the folder, in order, with descriptions', () => {
  const list = listTemplates(TEMPLATES)
  assert.deepEqual(
    list.map((t) => t.name),
    ['lua', 'minimal'],
  )
  assert.ok(list.every((t) => t.description.length > 0))
  const dir = tempDir()
  try {
    writeFile(join(dir, 'zeta/a.txt'), '')
    writeFile(join(dir, 'alpha/template.json'), '{"order": 5}')
    writeFile(join(dir, '.hidden/x'), '')
    assert.deepEqual(
      listTemplates(dir).map((t) => t.name),
      ['alpha', 'zeta'],
    )
  } finally {
    removeDir(dir)
  }
})

test('interactive: asks name, display name, author, template — defaults shown', async () => {
  const { ctx, asked } = ctxFor({ dir: 'clock' }, ['', 'The Clock', '', 'minimal'])
  await nameStep(ctx)
  await infoStep(ctx)
  await templateStep(ctx)
  assert.deepEqual(asked, [
    'App name: [clock]',
    'Display name (shown in the app market): [Clock]',
    'Author: [Default Author]',
    'Template: [lua]',
  ])
  assert.equal(ctx.targetDir, '/home/me/apps/clock')
  assert.equal(ctx.name, 'clock')
  assert.equal(ctx.displayName, 'The Clock')
  assert.equal(ctx.author, 'Default Author')
  assert.equal(ctx.template?.name, 'minimal')
})

test('interactive without DIR: the name is asked first and becomes the folder', async () => {
  const { ctx, asked } = ctxFor({}, ['weather', '', 'Ada'])
  await nameStep(ctx)
  await infoStep(ctx)
  assert.equal(asked[0], 'App name: [my-app]')
  assert.equal(ctx.targetDir, '/home/me/apps/weather')
  assert.equal(ctx.displayName, 'Weather')
})

test('flags answer every question: nothing is asked', async () => {
  const { ctx, asked } = ctxFor(
    { dir: 'x', name: 'clock', displayName: 'C', author: 'A', template: 'minimal' },
    [],
  )
  await nameStep(ctx)
  await infoStep(ctx)
  await templateStep(ctx)
  assert.deepEqual(asked, [])
  assert.equal(ctx.targetDir, '/home/me/apps/x')
  assert.equal(ctx.name, 'clock')
})

test('no TTY: defaults, never a question; a folder name that is no valid name asks for --name', async () => {
  const { ctx } = ctxFor({ dir: 'clock' })
  assert.equal(ctx.prompt, undefined)
  await nameStep(ctx)
  await infoStep(ctx)
  await templateStep(ctx)
  assert.deepEqual(
    [ctx.name, ctx.displayName, ctx.author, ctx.template?.name],
    ['clock', 'Clock', 'Default Author', 'lua'],
  )
  const bad = ctxFor({ dir: 'My Clock' }).ctx
  await assert.rejects(nameStep(bad), /folder name "My Clock" is not a valid app name.*--name my-clock/)
  await assert.rejects(nameStep(ctxFor({}).ctx), /Say where to create the app: assist create my-app/)
  await assert.rejects(
    templateStep(ctxFor({ template: 'nope' }).ctx),
    /Unknown template "nope": choose one of lua, minimal/,
  )
})

test('--yes with a TTY asks nothing', () => {
  const ctx = buildContext({
    cwd: '/',
    options: { yes: true },
    tty: true,
    prompter: () => scripted([]).prompter,
  })
  assert.equal(ctx.prompt, undefined)
})

test('install plan: submodule or clone, optional ref; the follow-up line is exact shell', () => {
  const url = 'file:///tmp/my repo/alloui.git'
  assert.deepEqual(
    allouiInstallPlan({ url, submodule: true }).map((s) => s.args.join(' ')),
    [`submodule add -- ${url} allo/deps/alloui`, 'submodule update --init --recursive'],
  )
  assert.deepEqual(
    allouiInstallPlan({ url, ref: 'v1', submodule: false }).map((s) => s.args.join(' ')),
    [
      `clone -- ${url} allo/deps/alloui`,
      '-C allo/deps/alloui checkout --quiet v1',
      '-C allo/deps/alloui submodule update --init --recursive',
    ],
  )
  const plan = allouiInstallPlan({ url, ref: 'v1', submodule: true })
  assert.equal(plan.length, 4)
  assert.equal(
    followUpCommand(plan.slice(3), "my app's"),
    "cd 'my app'\\''s' && git submodule update --init --recursive",
  )
  assert.equal(
    followUpCommand(plan.slice(0, 1), undefined),
    "git submodule add -- 'file:///tmp/my repo/alloui.git' allo/deps/alloui",
  )
})

test('next steps: cd (quoted), the steps, run, serve; failures first with their follow-up', () => {
  const text = nextStepsText({
    name: 'clock',
    template: 'lua',
    dir: 'my apps/clock',
    steps: [['assist fetch', 'download allonet']],
    failures: [],
  })
  assert.match(text, /^Created clock \(template lua\)\./)
  assert.match(
    text,
    /\n {2}cd 'my apps\/clock'\n {2}assist fetch +download allonet\n {2}assist run +run the app in the built-in place/,
  )
  assert.match(text, /assist serve/)
  assert.match(text, /lua\/main\.lua/)
  const failed = nextStepsText({
    name: 'clock',
    template: 'lua',
    steps: [],
    failures: [
      { what: 'installing alloui-lua', detail: 'git clone failed: boom', followUp: 'cd clock && git x' },
    ],
  })
  assert.match(
    failed,
    /not everything worked:\n {2}✖ installing alloui-lua: git clone failed: boom\n {4}Finish it later with: cd clock && git x/,
  )
  assert.doesNotMatch(failed, /\n {2}cd /)
})
