/** Build tools `fetch --build` needs, and the line that installs each. */
import { findExecutable } from '../fsutil.js'

export interface Tool {
  name: string
  path?: string
  install: string
}

const INSTALL: Record<string, string> = {
  git: 'Debian/Ubuntu: sudo apt install git; macOS: brew install git',
  cmake: 'Debian/Ubuntu: sudo apt install cmake; macOS: brew install cmake',
  cc: 'Debian/Ubuntu: sudo apt install build-essential; macOS: xcode-select --install',
}

/** The C compiler CMake would pick: $CC, then cc, gcc, clang. */
export function findCCompiler(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const names = [env.CC, 'cc', 'gcc', 'clang'].filter((n): n is string => !!n)
  for (const n of names) {
    const found = findExecutable(n, env.PATH)
    if (found) return found
  }
  return undefined
}

export function buildTools(env: NodeJS.ProcessEnv = process.env): Tool[] {
  return [
    { name: 'git', path: findExecutable('git', env.PATH), install: INSTALL.git },
    { name: 'cmake', path: findExecutable('cmake', env.PATH), install: INSTALL.cmake },
    { name: 'C compiler', path: findCCompiler(env), install: INSTALL.cc },
  ]
}

export function installHint(tool: Tool): string {
  return `${tool.name} (${tool.install})`
}
