#!/usr/bin/env node
// `assist --version` is answered without loading oclif (its import alone costs several times a bare
// node start); the text is the one oclif prints. Everything else goes through oclif.
const args = process.argv.slice(2)
if (args.length === 1 && (args[0] === '--version' || args[0] === '-v')) {
  const { readFileSync } = await import('node:fs')
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
  process.stdout.write(
    `${pkg.name}/${pkg.version} ${process.platform}-${process.arch} node-${process.version}\n`,
  )
} else {
  const { execute } = await import('@oclif/core')
  await execute({ dir: import.meta.url })
}
