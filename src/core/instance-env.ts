/**
 * What environment an app instance gets. Pure: no process state is read here except what is passed in.
 *
 * - The gateway (`assist serve`) hands an instance only an explicit allow-list of its own variables
 *   (`PASSED_VARIABLES`, `LC_*`), plus what the operator adds with `serve --env`, plus the app's own
 *   `alloapp.json` "env", plus the launch's variables (ALLO_APP_BOOT_ARGS, ALLO_APP_BOOTED_BY_IDENTITY
 *   and whatever the runtime itself sets). The gateway's secrets (ASSIST_ADMIN_TOKEN) and settings
 *   (PORT, APPS_ROOT, NODE_OPTIONS, ALLONET_BASE_URL …) never reach an app.
 * - `assist run` is the developer's own shell: the app gets that environment, minus assist's own
 *   `ASSIST_*` variables.
 */
import { UserError } from './errors.js'

/** The gateway's variables every instance gets (when the gateway has them). Documented in the hosting docs. */
export const PASSED_VARIABLES: readonly string[] = [
  'PATH',
  'HOME',
  'USER',
  'LOGNAME',
  'SHELL',
  'LANG',
  'LANGUAGE',
  'TZ',
  'TMPDIR',
  'TERM',
  'NO_COLOR',
]
/** Prefixes of the gateway's variables every instance gets (the locale categories). */
export const PASSED_PREFIXES: readonly string[] = ['LC_']

/** Variables the launch itself sets; an operator cannot set them with `serve --env`. */
export const LAUNCH_VARIABLES: readonly string[] = ['ALLO_APP_BOOT_ARGS', 'ALLO_APP_BOOTED_BY_IDENTITY']

const PASSED = new Set(PASSED_VARIABLES)

export function isPassedVariable(name: string): boolean {
  return PASSED.has(name) || PASSED_PREFIXES.some((p) => name.startsWith(p))
}

/** The part of the gateway's environment an instance inherits: the allow-list only. */
export function allowedEnv(gatewayEnv: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(gatewayEnv)) if (v !== undefined && isPassedVariable(k)) out[k] = v
  return out
}

/** `assist run`'s instance environment: the developer's, without assist's own ASSIST_* variables. */
export function withoutAssistVariables(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(env)) if (v !== undefined && !k.startsWith('ASSIST_')) out[k] = v
  return out
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/

/**
 * Parses `serve --env` values: `KEY=VALUE` sets KEY for every instance, a bare `KEY` passes the
 * gateway's own value of KEY on (nothing when the gateway has none). Throws a UserError on bad input.
 */
export function parseEnvAdditions(
  entries: readonly string[],
  gatewayEnv: NodeJS.ProcessEnv,
): Record<string, string> {
  const out: Record<string, string> = {}
  for (const entry of entries) {
    const eq = entry.indexOf('=')
    const key = eq < 0 ? entry : entry.slice(0, eq)
    if (!NAME.test(key))
      throw new UserError(
        `Invalid --env ${JSON.stringify(entry)}: give KEY=VALUE (or KEY to pass the gateway's own value on), where KEY is letters, digits and "_".`,
      )
    if (LAUNCH_VARIABLES.includes(key))
      throw new UserError(`Invalid --env ${key}: it is set by each launch (from the place's request).`)
    if (entry.includes('\0')) throw new UserError(`Invalid --env ${key}: the value contains a NUL character.`)
    if (eq >= 0) out[key] = entry.slice(eq + 1)
    else if (gatewayEnv[key] !== undefined) out[key] = gatewayEnv[key] as string
  }
  return out
}
