/** Real native artefacts for tests: shared libraries built with the system C compiler (cc -shared). */
import { execFileSync } from 'node:child_process'
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { tempDir } from './app.js'

/**
 * Builds a real shared library exporting `int allonet_test_marker(void)` returning `marker`
 * (so two builds differ byte for byte). Extra cc arguments (e.g. -L/-l) may be given.
 */
export function buildSharedLib(out: string, marker = 1, extraArgs: string[] = []): string {
  const dir = tempDir('assist-cc-')
  const src = join(dir, 'lib.c')
  writeFileSync(src, `int allonet_test_marker(void) { return ${marker}; }\n`)
  mkdirSync(dirname(out), { recursive: true })
  execFileSync('cc', ['-shared', '-fPIC', '-o', out, src, ...extraArgs], { stdio: 'pipe' })
  return out
}

/** A shared library that needs another library (`libassistdep.so`) which is then deleted: ffi.load fails. */
export function buildUnloadableLib(out: string): string {
  const dir = tempDir('assist-cc-')
  const dep = join(dir, 'libassistdep.so')
  buildSharedLib(dep, 7)
  buildSharedLib(out, 8, [`-L${dir}`, '-Wl,--no-as-needed', '-lassistdep'])
  execFileSync('rm', ['-f', dep])
  return out
}

/** Runs git with a fixed identity (tests only). */
export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: 'test',
      GIT_AUTHOR_EMAIL: 'test@example.com',
      GIT_COMMITTER_NAME: 'test',
      GIT_COMMITTER_EMAIL: 'test@example.com',
      ...GIT_ALLOW_FILE_ENV,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  }).trim()
}

/** Lets git use local-path submodules (refused by default since git 2.38) — test repositories are local. */
export const GIT_ALLOW_FILE_ENV = {
  GIT_CONFIG_COUNT: '1',
  GIT_CONFIG_KEY_0: 'protocol.file.allow',
  GIT_CONFIG_VALUE_0: 'always',
}

/** A PATH folder holding only the named tools (symlinks to the real ones): for "X is missing" tests. */
export function pathWith(...tools: string[]): string {
  const dir = tempDir('assist-path-')
  for (const t of tools) {
    const real = execFileSync('sh', ['-c', `command -v ${t}`], { encoding: 'utf8' }).trim()
    symlinkSync(real, join(dir, t))
  }
  return dir
}
