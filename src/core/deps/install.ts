/**
 * Getting an allonet library into `allo/lib/` safely: every path writes a temp file beside the
 * target, verifies it, and renames it into place, so a failure leaves the previous library as it was.
 */
import { randomBytes } from 'node:crypto'
import { chmodSync, copyFileSync, mkdirSync, renameSync, rmSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { UserError } from '../errors.js'
import { EXIT } from '../exit-codes.js'
import { isFile } from '../fsutil.js'
import { allonetPlatform, type Platform } from '../project.js'
import { checkLibraryHeader, PLATFORM_WORDS, readHeader } from './header.js'
import { removeOnInterrupt } from './interrupt.js'
import { LIB_DIR } from './lock.js'

export interface PlatformInfo {
  platform: Platform
  file: string
}

export function requirePlatform(os: NodeJS.Platform = process.platform, arch = process.arch): PlatformInfo {
  const p = allonetPlatform(os, arch)
  if (!p)
    throw new UserError(
      `allonet has no builds for ${os}-${arch} (only linux-x64, mac-universal, windows-x64). ` +
        'Build it yourself and install it with `assist fetch --from FILE`.',
      EXIT.missingDependency,
    )
  return p
}

export function libraryTarget(root: string, p: PlatformInfo): string {
  return join(root, LIB_DIR, p.file)
}

/** A fresh temp path beside `target` (same folder, so the final rename is atomic). */
export function tempBeside(target: string): string {
  mkdirSync(join(target, '..'), { recursive: true })
  const tmp = join(
    target,
    '..',
    `.${target.split(/[\\/]/).pop()}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`,
  )
  removeOnInterrupt(tmp)
  return tmp
}

/** Throws a UserError (exiting with `exitCode`) unless `path` is a shared library for the platform (by header). */
export function assertLibrary(
  path: string,
  p: PlatformInfo,
  what: string,
  exitCode: number = EXIT.usage,
): void {
  const verdict = checkLibraryHeader(readHeader(path), p.platform)
  if (!verdict.ok)
    throw new UserError(
      `${what} is ${verdict.kind}, not ${PLATFORM_WORDS[p.platform]} (${verdict.reason}). The installed library was not changed.`,
      exitCode,
    )
}

/** Moves a verified temp file over the target in one rename. */
export function commitTemp(tmp: string, target: string): void {
  chmodSync(tmp, 0o755)
  renameSync(tmp, target)
}

/** `--from FILE`: installs a library built elsewhere, after checking its header. */
export function installFromFile(root: string, file: string, p: PlatformInfo): string {
  const src = resolve(file)
  if (!isFile(src)) throw new UserError(`--from ${file}: no such file. Give the path of a built ${p.file}.`)
  assertLibrary(src, p, src)
  const target = libraryTarget(root, p)
  const tmp = tempBeside(target)
  try {
    copyFileSync(src, tmp)
    assertLibrary(tmp, p, src) // the copy, in case the source changed under us
    commitTemp(tmp, target)
  } catch (err) {
    rmSync(tmp, { force: true })
    throw err
  }
  return target
}
