/**
 * Local bare git repositories standing in for alloui-lua (github.com/alloverse/alloui-lua, which
 * cannot be reached from the tests): alloui.git has a nested submodule lib/pl (penlight.git), like
 * the real one, a tag v1 and a later commit on main.
 *
 * git ≥ 2.38 refuses file:// submodules unless protocol.file.allow=always: FILE_PROTOCOL_ENV passes
 * that to every git the CLI starts (GIT_CONFIG_COUNT/KEY/VALUE), as a user of a local mirror would.
 */
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { writeFile } from './app.js'

export const FILE_PROTOCOL_ENV = {
  GIT_CONFIG_COUNT: '1',
  GIT_CONFIG_KEY_0: 'protocol.file.allow',
  GIT_CONFIG_VALUE_0: 'always',
  GIT_AUTHOR_NAME: 'Test Author',
  GIT_AUTHOR_EMAIL: 'test@example.com',
  GIT_COMMITTER_NAME: 'Test Author',
  GIT_COMMITTER_EMAIL: 'test@example.com',
}

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, {
    cwd,
    env: { ...process.env, ...FILE_PROTOCOL_ENV },
    encoding: 'utf8',
  }).trim()
}

export interface AllouiFixture {
  /** file:// URL of the bare alloui repository. */
  url: string
  /** Path of the bare alloui repository. */
  bare: string
  /** Commit of tag v1, and of main (one commit later). */
  v1: string
  main: string
}

/** Builds the bare repositories under `dir`; `files` are extra files in alloui's v1 commit. */
export function makeAllouiFixture(
  dir: string,
  files: Record<string, string> = {},
  plFiles: Record<string, string> = {},
): AllouiFixture {
  const pl = join(dir, 'work-penlight')
  writeFile(join(pl, 'lua/pl/README'), 'stand-in for Penlight\n')
  for (const [p, c] of Object.entries(plFiles)) writeFile(join(pl, p), c)
  git(dir, 'init', '--quiet', '-b', 'main', pl)
  git(pl, 'add', '.')
  git(pl, 'commit', '--quiet', '-m', 'penlight')
  git(dir, 'clone', '--quiet', '--bare', pl, join(dir, 'penlight.git'))

  const ui = join(dir, 'work-alloui')
  writeFile(join(ui, 'lua/alloui/README'), 'stand-in for alloui-lua\n')
  for (const [p, c] of Object.entries(files)) writeFile(join(ui, p), c)
  git(dir, 'init', '--quiet', '-b', 'main', ui)
  git(ui, 'submodule', 'add', '--quiet', `file://${join(dir, 'penlight.git')}`, 'lib/pl')
  git(ui, 'add', '.')
  git(ui, 'commit', '--quiet', '-m', 'alloui v1')
  git(ui, 'tag', 'v1')
  const v1 = git(ui, 'rev-parse', 'HEAD')
  writeFile(join(ui, 'CHANGES'), 'after v1\n')
  git(ui, 'add', '.')
  git(ui, 'commit', '--quiet', '-m', 'after v1')
  const main = git(ui, 'rev-parse', 'HEAD')
  const bare = join(dir, 'alloui.git')
  git(dir, 'clone', '--quiet', '--bare', ui, bare)
  return { url: `file://${bare}`, bare, v1, main }
}

export { git as gitIn }
