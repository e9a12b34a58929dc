#!/usr/bin/env node
// `assist --version` and help are answered without loading oclif (its import alone costs several
// times a bare node start). The version text is the one oclif prints; a help is the text oclif
// rendered the first time, kept per inputs (see src/core/help-cache.ts). Everything else goes
// through oclif.
const args = process.argv.slice(2)
if (args.length === 1 && (args[0] === '--version' || args[0] === '-v')) {
  const { readFileSync } = await import('node:fs')
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
  process.stdout.write(
    `${pkg.name}/${pkg.version} ${process.platform}-${process.arch} node-${process.version}\n`,
  )
} else {
  const { existsSync } = await import('node:fs')
  if (!existsSync(new URL('../dist/commands', import.meta.url))) {
    // A checkout that was never built (`npm start` before `npm run build`): oclif would find no
    // commands and call every one unknown.
    const { fileURLToPath } = await import('node:url')
    const root = fileURLToPath(new URL('..', import.meta.url))
    const build = existsSync(new URL('../node_modules', import.meta.url))
      ? 'npm run build'
      : 'npm ci && npm run build'
    process.stderr.write(
      `✖ allo-assist is not built (${root}dist has no commands): run \`${build}\` in ${root}, then try again.\n`,
    )
    process.exit(3) // EXIT.missingDependency (src/core/exit-codes.ts; dist/ is what is missing)
  }
  const help = await helpCache(args)
  if (help?.text) {
    process.stdout.write(help.text)
  } else {
    const oclif = await import('@oclif/core')
    const capture = help ? captureOutput() : undefined
    await oclif
      .run(args, import.meta.url)
      .then(() => oclif.flush())
      .catch(async (error) => {
        // oclif's own errors from outside our commands (help's "Command x not found", a plugin's bad
        // value) in our one-line style, as a usage error; exit requests and bugs (which keep their
        // stack) go to oclif's handler.
        if (error?.oclif && error.code !== 'EEXIT' && !error.skipOclifErrorHandling && error.message) {
          const [{ oneLine }, { c }] = await Promise.all([
            import('../dist/base-command.js'),
            import('../dist/core/output.js'),
          ])
          process.stderr.write(`${c.red('✖')} ${oneLine(error.message)} See \`assist help\`.\n`)
          process.exitCode = 2 // EXIT.usage (src/core/exit-codes.ts)
          return
        }
        return oclif.handle(error)
      })
    const out = capture?.stop()
    // Keep only a clean render: something on stdout, nothing on stderr, a zero exit.
    if (help && out?.stdout && !out.stderr && !process.exitCode) help.keep(out.stdout)
  }
}

/** For a help request this cache answers: the kept text (if any) and a way to keep oclif's. */
async function helpCache(argv) {
  // Only what might ask for help loads the cache code at all.
  if (!(argv.length <= 1 || argv[0] === 'help' || argv.includes('--help') || argv.includes('-h')))
    return undefined
  const cache = await import('../dist/core/help-cache.js').catch(() => undefined)
  const dir = cache?.helpCacheDir()
  if (!dir) return undefined
  try {
    const { fileURLToPath } = await import('node:url')
    const inputs = await cache.currentHelpInputs(fileURLToPath(new URL('..', import.meta.url)), argv)
    if (!inputs) return undefined
    const name = cache.helpCacheName(inputs)
    return { text: cache.readCachedHelp(dir, name), keep: (text) => cache.writeCachedHelp(dir, name, text) }
  } catch {
    return undefined
  }
}

/** Copies what is written to stdout and stderr (still writing it through) until stop(). */
function captureOutput() {
  const seen = { stdout: '', stderr: '' }
  const originals = {}
  for (const name of ['stdout', 'stderr']) {
    const stream = process[name]
    const write = stream.write
    originals[name] = write
    stream.write = function (chunk, ...rest) {
      seen[name] += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8')
      return write.call(this, chunk, ...rest)
    }
  }
  return {
    stop() {
      for (const name of ['stdout', 'stderr']) process[name].write = originals[name]
      return seen
    },
  }
}
