import type { AppProject } from '../project.js'
import { commandLaunchSpec } from './command.js'
import { luaLaunchSpec } from './lua.js'
import type { LaunchSpec, RuntimeOptions } from './types.js'

export type { LaunchSpec, RuntimeOptions } from './types.js'

/** Turns an app and a place URL into the argv/env/cwd that start it; throws a UserError if the runtime is incomplete. */
export function launchSpecFor(project: AppProject, placeUrl: string, opts: RuntimeOptions = {}): LaunchSpec {
  return project.kind === 'lua'
    ? luaLaunchSpec(project, placeUrl, opts)
    : commandLaunchSpec(project, placeUrl, opts)
}
