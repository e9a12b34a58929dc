/**
 * For the fetch-lock tests: a local allonet-like git repository that `assist fetch --build` builds
 * for real with cmake and cc, whose library target first waits for the file $ASSIST_TEST_GATE names
 * (when it is set), so a build holds its locks for as long as a test likes, and then fails when
 * $ASSIST_TEST_FAIL is set; and an app that locks a version over an older installed library.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { makeLuaApp, writeFile } from './app.js'
import { git } from './native.js'

/** The library an app keeps in allo/lib. */
export const LIB = 'allo/lib/liballonet.so'

/** Creates the gated repository at `<base>/allonet`; its version is `<release>.g<its commit>`. */
export function makeGatedAllonet(base: string, release: string): { repo: string; version: string } {
  const repo = join(base, 'allonet')
  mkdirSync(repo)
  git(repo, 'init', '-q', '-b', 'main')
  writeFile(
    join(repo, 'CMakeLists.txt'),
    `cmake_minimum_required(VERSION 3.10)
project(allonet C)
add_custom_target(gate COMMAND sh \${CMAKE_SOURCE_DIR}/gate.sh VERBATIM)
add_library(allonet SHARED src/allonet.c)
add_dependencies(allonet gate)
`,
  )
  writeFile(
    join(repo, 'gate.sh'),
    'while [ -n "$ASSIST_TEST_GATE" ] && [ ! -e "$ASSIST_TEST_GATE" ]; do sleep 0.05; done\n[ -z "$ASSIST_TEST_FAIL" ]\n',
  )
  writeFile(join(repo, 'src/allonet.c'), 'int allonet_test_marker(void) { return 77; }\n')
  git(repo, 'add', '.')
  git(repo, 'commit', '-qm', 'gated allonet')
  return { repo, version: `${release}.g${git(repo, 'rev-parse', '--short=9', 'HEAD')}` }
}

/** A Lua app whose allo/allonet.lock says `lock`, with `installed` as its library and alloui present. */
export function appLocking(lock: string, installed: Buffer): string {
  const root = makeLuaApp('app', {
    withLib: false,
    files: {
      'allo/allonet.lock': `${lock}\n`,
      'allo/lib/allonet.cache': '0.0.1.g0\n',
      'allo/deps/alloui/README.md': 'alloui\n',
    },
  })
  writeFileSync(join(root, LIB), installed)
  return root
}
