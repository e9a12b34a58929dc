/** Where allonet builds are downloaded from: `--base-url` > `ALLONET_BASE_URL` > alloapp.json `allonet.baseUrl`. */
import { UserError } from '../errors.js'
import { CONFIG_FILE } from '../project.js'

export type BaseUrlSource = '--base-url' | 'ALLONET_BASE_URL' | typeof CONFIG_FILE

export interface BaseUrl {
  url: string
  source: BaseUrlSource
}

/** The bucket the old assist used; it no longer answers. Named in messages only. */
export const OLD_BUCKET = 'http://alloverse-downloads-prod.s3-eu-north-1.amazonaws.com/allonet'

export function noBaseUrlMessage(): string {
  return (
    `No download location for allonet is configured, and the public bucket the old assist used (${OLD_BUCKET}) ` +
    'is gone. Point at a mirror that has the layout <base>/<version>/<platform>/<file> with --base-url URL, the ' +
    `ALLONET_BASE_URL environment variable, or "allonet": {"baseUrl": "URL"} in ${CONFIG_FILE}; or install a ` +
    'library you have with `assist fetch --from FILE`, or build it from source with `assist fetch --build`.'
  )
}

/** Validates and normalises a base URL (http/https/file, no trailing slash). */
export function normaliseBaseUrl(raw: string, source: BaseUrlSource): string {
  let u: URL
  try {
    u = new URL(raw)
  } catch {
    throw new UserError(
      `${source} "${raw}" is not a URL: give an http(s) URL such as https://mirror.example.com/allonet.`,
    )
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new UserError(
      `${source} "${raw}" must be an http:// or https:// URL (got ${u.protocol}); for a file on disk use \`assist fetch --from FILE\`.`,
    )
  return u.href.replace(/\/+$/, '')
}

export function resolveBaseUrl(opts: {
  flag?: string
  env?: NodeJS.ProcessEnv
  configBaseUrl?: string
}): BaseUrl {
  const env = opts.env ?? process.env
  const candidates: Array<[string | undefined, BaseUrlSource]> = [
    [opts.flag, '--base-url'],
    [env.ALLONET_BASE_URL, 'ALLONET_BASE_URL'],
    [opts.configBaseUrl, CONFIG_FILE],
  ]
  for (const [value, source] of candidates) {
    if (value !== undefined && value.trim() !== '')
      return { url: normaliseBaseUrl(value.trim(), source), source }
  }
  throw new UserError(noBaseUrlMessage())
}

/** `<base>/<version>/<platform>/<file>` */
export function libraryUrl(base: string, version: string, platform: string, file: string): string {
  return `${base}/${encodeURIComponent(version)}/${encodeURIComponent(platform)}/${encodeURIComponent(file)}`
}

/** `<base>/latest_<branch>_<platform>.json` */
export function latestUrl(base: string, branch: string, platform: string): string {
  return `${base}/latest_${encodeURIComponent(branch)}_${encodeURIComponent(platform)}.json`
}
