/** This package's own version (package.json), e.g. for the allo-assist an app's Dockerfile installs. */
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

let cached: string | undefined

export function assistVersion(): string {
  if (cached !== undefined) return cached
  // src/core/version.ts and dist/core/version.js: walk up to the package.json of allo-assist.
  let dir = dirname(fileURLToPath(import.meta.url))
  for (let i = 0; i < 5; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        name?: string
        version?: string
      }
      if (pkg.name === 'allo-assist' && typeof pkg.version === 'string') {
        cached = pkg.version
        return cached
      }
    } catch {
      // no package.json here: go up
    }
    dir = dirname(dir)
  }
  throw new Error('cannot find the package.json of allo-assist above the version module')
}
