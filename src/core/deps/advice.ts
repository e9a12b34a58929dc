/**
 * The one step that gets this machine an allonet library, for create's next steps and doctor's fix
 * lines (pure, given what is installed): a configured mirror → `assist fetch`; else git, cmake and a C
 * compiler → `assist fetch --build`; else what to install first (per OS), then `--build`.
 */
import { resolveBaseUrl } from './base-url.js'
import { buildTools, installHint, type Tool } from './tools.js'

export interface LibraryAdvice {
  how: 'download' | 'build' | 'install-tools'
  /** The command to run (for create's next steps). */
  command: string
  /** One sentence: what to do (for doctor's fix line and create's messages). */
  text: string
  /** The build tools that are missing (how === 'install-tools'). */
  missing: Tool[]
}

/** Whether a download mirror is configured (ALLONET_BASE_URL or alloapp.json), valid or not. */
export function mirrorConfigured(env: NodeJS.ProcessEnv, configBaseUrl?: string): boolean {
  try {
    resolveBaseUrl({ env, configBaseUrl })
    return true
  } catch {
    // No base URL at all, or one that is not a URL: `assist fetch` would fail here, so it is no advice.
    return false
  }
}

export function missingToolsText(missing: Tool[]): string {
  return `install ${missing.map(installHint).join(' and ')}`
}

export function libraryAdvice(
  env: NodeJS.ProcessEnv = process.env,
  configBaseUrl?: string,
  tools: Tool[] = buildTools(env),
): LibraryAdvice {
  if (mirrorConfigured(env, configBaseUrl))
    return {
      how: 'download',
      command: 'assist fetch',
      text: 'run `assist fetch` (downloads it from your mirror)',
      missing: [],
    }
  const missing = tools.filter((t) => !t.path)
  if (missing.length === 0)
    return {
      how: 'build',
      command: 'assist fetch --build',
      text: 'run `assist fetch --build` (builds it from source with git and cmake; cached, so the next app gets it at once)',
      missing,
    }
  return {
    how: 'install-tools',
    command: 'assist fetch --build',
    text: `${missingToolsText(missing)}, then run \`assist fetch --build\` (or install a library you have: \`assist fetch --from FILE\`)`,
    missing,
  }
}
