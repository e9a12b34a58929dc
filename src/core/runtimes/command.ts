import { resolve } from 'node:path'
import { UserError } from '../errors.js'
import { EXIT } from '../exit-codes.js'
import { findExecutable } from '../fsutil.js'
import { type AppProject, CONFIG_FILE } from '../project.js'
import type { LaunchSpec, RuntimeOptions } from './types.js'

/** Apps of any language: the argv from alloapp.json's "start", with `{url}` replaced by the place URL. */
export function commandLaunchSpec(
  project: AppProject,
  placeUrl: string,
  opts: RuntimeOptions = {},
): LaunchSpec {
  const start = project.config.start
  if (!start || start.length === 0) {
    throw new UserError(
      `${CONFIG_FILE} in ${project.root} has no "start" command, e.g. "start": ["python3", "app.py", "{url}"].`,
    )
  }
  const argv = start.map((part) => part.replaceAll('{url}', placeUrl))
  const program = argv[0]
  const found = program.includes('/')
    ? findExecutable(resolve(project.root, program))
    : findExecutable(program, (opts.env ?? process.env).PATH)
  if (!found) {
    throw new UserError(
      `The start command "${program}" from ${CONFIG_FILE} was not found or is not executable: install it or fix "start".`,
      EXIT.missingDependency,
    )
  }
  argv[0] = found
  return { argv, cwd: project.root, env: { ...project.config.env } }
}
