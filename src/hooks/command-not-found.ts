/**
 * `assist rn`: says in one line that there is no such command, suggests the closest one and lists
 * them all; exits with EXIT.usage. In a terminal it first offers to run the suggestion.
 */
import type { Hook } from '@oclif/core'
import { EXIT } from '../core/exit-codes.js'
import { c } from '../core/output.js'
import { closest } from '../core/suggest.js'

const hook: Hook.CommandNotFound = async (opts) => {
  const { config } = opts
  const shown = (id: string) => id.replaceAll(':', ' ')
  const ids = config.commands
    .filter((cmd) => !cmd.hidden)
    .map((cmd) => cmd.id)
    .sort()
  const typed = shown(opts.id)
  const suggestion = closest(typed, ids.map(shown)) ?? closest(opts.id.split(':')[0], ids.map(shown))
  const article = /^[aeiou]/i.test(config.bin) ? 'an' : 'a'
  const head = `${typed} is not ${article} ${config.bin} command.`
  if (suggestion && process.stdin.isTTY && process.stdout.isTTY) {
    process.stderr.write(`${c.red('✖')} ${head}\n`)
    const { confirm } = await import('@inquirer/prompts')
    const yes = await confirm({
      message: `Run \`${config.bin} ${suggestion}\` instead?`,
      default: true,
    }).catch(() => false)
    if (yes) return config.runCommand(suggestion.replaceAll(' ', ':'), opts.argv ?? [])
    process.stderr.write(`Commands: ${ids.map(shown).join(', ')}. See \`${config.bin} help\`.\n`)
  } else {
    const guess = suggestion ? ` Did you mean \`${config.bin} ${suggestion}\`?` : ''
    process.stderr.write(
      `${c.red('✖')} ${head}${guess} Commands: ${ids.map(shown).join(', ')}. See \`${config.bin} help\`.\n`,
    )
  }
  process.exitCode = EXIT.usage
}

export default hook
