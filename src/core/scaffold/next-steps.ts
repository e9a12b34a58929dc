/** Step "next steps": the short message create ends with (pure). */
import { shellQuote } from './shell.js'

export interface NextStepsInput {
  name: string
  template: string
  /** The folder to cd into, as typed (undefined: the current folder). */
  dir?: string
  /** Commands added by the steps: [command, what it does]. */
  steps: Array<[string, string]>
  failures: Array<{ what: string; detail: string; followUp: string }>
}

export function nextStepsText(i: NextStepsInput): string {
  const lines: string[] = []
  if (i.failures.length === 0) lines.push(`Created ${i.name} (template ${i.template}).`)
  else {
    lines.push(`Created ${i.name} (template ${i.template}), but not everything worked:`)
    for (const f of i.failures) {
      lines.push(`  ✖ ${f.what}: ${f.detail}`)
      lines.push(`    Finish it later with: ${f.followUp}`)
    }
  }
  const cmds: Array<[string, string]> = [
    ...(i.dir ? ([[`cd ${shellQuote(i.dir)}`, '']] as Array<[string, string]>) : []),
    ...i.steps,
    ['assist run', 'run the app in the built-in place (and its web view); restarts it on every save'],
    ['assist serve', 'let places launch it (app gateway on port 8000)'],
  ]
  const short = cmds.filter(([c]) => c.length <= 40)
  const width = Math.max(0, ...short.map(([c]) => c.length))
  lines.push('', 'Next steps:')
  for (const [cmd, what] of cmds) {
    if (!what) lines.push(`  ${cmd}`)
    else if (cmd.length <= 40) lines.push(`  ${cmd.padEnd(width)}  ${what}`)
    else lines.push(`  # ${what}:`, `  ${cmd}`)
  }
  lines.push('', 'Then edit lua/main.lua: that is your app.')
  return lines.join('\n')
}
