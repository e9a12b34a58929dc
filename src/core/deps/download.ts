/**
 * HTTP downloads for allonet builds with node:http(s): redirects followed (a few, loops detected,
 * never from https down to http, never to another scheme), an idle timeout and an overall deadline,
 * a size cap, streaming to a file with a running sha256, and one clear message per failure.
 */
import { createHash } from 'node:crypto'
import { once } from 'node:events'
import { open } from 'node:fs/promises'
import type { IncomingMessage } from 'node:http'
import { Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { UserError } from '../errors.js'
import { EXIT } from '../exit-codes.js'
import { isHtml } from './header.js'

export type DownloadErrorKind =
  | 'not-found'
  | 'http'
  | 'timeout'
  | 'refused'
  | 'dns'
  | 'network'
  | 'redirect-loop'
  | 'too-many-redirects'
  | 'bad-redirect'
  | 'truncated'
  | 'html'
  | 'too-large'
  | 'insecure-redirect'
  | 'deadline'

export class DownloadError extends UserError {
  readonly kind: DownloadErrorKind
  readonly url: string
  readonly status?: number

  constructor(kind: DownloadErrorKind, url: string, message: string, status?: number) {
    super(message, EXIT.network)
    this.kind = kind
    this.url = url
    this.status = status
  }
}

export interface RequestOptions {
  /** Give up when no byte arrives for this long (connecting, waiting for headers, or mid-body). */
  timeoutMs: number
  /** Redirects followed before giving up (default 5). */
  maxRedirects?: number
  /** Give up when the whole transfer (every redirect, headers and body) takes longer than this. */
  deadlineMs?: number
}

/** Default largest download accepted (--max-size). */
export const DEFAULT_MAX_DOWNLOAD_BYTES = 64 * 1024 * 1024
/** Default overall deadline of one download (--deadline). */
export const DEFAULT_DEADLINE_MS = 600_000

export interface DownloadOptions extends RequestOptions {
  onProgress?: (received: number, total: number | undefined) => void
  /** Refuse a body larger than this (default DEFAULT_MAX_DOWNLOAD_BYTES). */
  maxBytes?: number
}

export interface DownloadResult {
  bytes: number
  sha256: string
  /** The URL the bytes finally came from, after redirects. */
  finalUrl: string
}

const REDIRECTS = new Set([301, 302, 303, 307, 308])

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`
}

function networkError(err: NodeJS.ErrnoException, url: string, timeoutMs: number): DownloadError {
  if (err instanceof DownloadError) return err
  const u = new URL(url)
  const hostPort = u.host
  switch (err.code) {
    case 'ECONNREFUSED':
      return new DownloadError(
        'refused',
        url,
        `Could not connect to ${hostPort} (connection refused) while fetching ${url}: is the mirror running, and is the base URL right?`,
      )
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new DownloadError(
        'dns',
        url,
        `The host ${u.hostname} in ${url} could not be resolved: check the base URL and your network.`,
      )
    case 'ETIMEDOUT':
      return timeoutError(url, timeoutMs)
    default:
      return new DownloadError(
        'network',
        url,
        `Network error while fetching ${url}: ${err.message}. Check your connection and try again.`,
      )
  }
}

function timeoutError(url: string, timeoutMs: number): DownloadError {
  return new DownloadError(
    'timeout',
    url,
    `Timed out: ${url} sent nothing for ${seconds(timeoutMs)}. The mirror is slow or unreachable: try again, or allow longer with --timeout SECONDS.`,
  )
}

function deadlineError(url: string, deadlineMs: number): DownloadError {
  return new DownloadError(
    'deadline',
    url,
    `Gave up on ${url}: the download took longer than ${seconds(deadlineMs)} in all. The mirror is too slow: try again, or allow longer with --deadline SECONDS.`,
  )
}

function tooLargeError(url: string, max: number): DownloadError {
  return new DownloadError(
    'too-large',
    url,
    `${url} is larger than ${max} bytes, more than any allonet library; nothing was installed. Check the mirror, or allow more with --max-size MB.`,
  )
}

/** One GET, no redirects followed. Resolves with the response (body unread). */
async function getOnce(url: string, timeoutMs: number, signal?: AbortSignal): Promise<IncomingMessage> {
  const u = new URL(url)
  if (u.protocol !== 'https:' && u.protocol !== 'http:')
    throw new DownloadError(
      'bad-redirect',
      url,
      `Refusing to fetch ${url}: only http and https URLs are downloaded. Check the base URL and the mirror's redirects.`,
    )
  const mod = u.protocol === 'https:' ? await import('node:https') : await import('node:http')
  return new Promise((resolve, reject) => {
    const req = mod.get(u, { headers: { 'user-agent': 'allo-assist', accept: '*/*' }, signal }, (res) => {
      // The socket's idle timeout keeps guarding the body; make it fail the body stream.
      resolve(res)
    })
    req.setTimeout(timeoutMs, () => req.destroy(timeoutError(url, timeoutMs)))
    req.once('error', (err) => reject(networkError(err, url, timeoutMs)))
  })
}

/**
 * GETs `url`, following redirects. Resolves with a 2xx response; HTTP errors, redirect loops and
 * network failures reject with a DownloadError.
 */
export async function openUrl(
  url: string,
  opts: RequestOptions,
  signal?: AbortSignal,
): Promise<{ res: IncomingMessage; url: string }> {
  const max = opts.maxRedirects ?? 5
  const chain: string[] = [url]
  let current = url
  for (;;) {
    const res = await getOnce(current, opts.timeoutMs, signal)
    const status = res.statusCode ?? 0
    if (REDIRECTS.has(status)) {
      res.resume()
      const location = res.headers.location
      if (!location)
        throw new DownloadError(
          'bad-redirect',
          current,
          `${current} answered HTTP ${status} without a Location header.`,
          status,
        )
      let nextUrl: URL
      try {
        nextUrl = new URL(location, current)
      } catch {
        throw new DownloadError('bad-redirect', current, `${current} redirected to an invalid URL.`, status)
      }
      const next = nextUrl.href
      if (nextUrl.protocol !== 'https:' && nextUrl.protocol !== 'http:')
        throw new DownloadError(
          'bad-redirect',
          current,
          `Refusing the redirect from ${current} to ${next}: only http and https are downloaded. The mirror is misconfigured; fix it or use another --base-url.`,
          status,
        )
      // A downgrade would hand the bytes to anyone on the path: once on https, stay on https.
      if (new URL(current).protocol === 'https:' && nextUrl.protocol === 'http:')
        throw new DownloadError(
          'insecure-redirect',
          current,
          `Refusing the redirect from ${current} to plain-http ${next}: a download that starts on https stays on https. Fix the mirror, or give an https URL that does not redirect.`,
          status,
        )
      if (chain.includes(next))
        throw new DownloadError(
          'redirect-loop',
          url,
          `Redirect loop fetching ${url}: ${[...chain, next].join(' → ')}. The mirror is misconfigured; fix it or use another --base-url.`,
          status,
        )
      if (chain.length > max)
        throw new DownloadError(
          'too-many-redirects',
          url,
          `Too many redirects fetching ${url} (more than ${max}, last to ${next}). The mirror is misconfigured; fix it or use another --base-url.`,
          status,
        )
      chain.push(next)
      current = next
      continue
    }
    if (status >= 200 && status < 300) return { res, url: current }
    res.resume()
    if (status === 404 || status === 410)
      throw new DownloadError('not-found', current, `Not found (HTTP ${status}): ${current}`, status)
    throw new DownloadError(
      'http',
      current,
      `The server answered HTTP ${status}${res.statusMessage ? ` ${res.statusMessage}` : ''} for ${current}. Try again later, or check the mirror.`,
      status,
    )
  }
}

function contentLength(res: IncomingMessage): number | undefined {
  const raw = res.headers['content-length']
  if (raw === undefined || res.headers['content-encoding']) return undefined
  const n = Number(raw)
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined
}

function isHtmlType(res: IncomingMessage): boolean {
  return /^\s*(text\/html|application\/xhtml)/i.test(String(res.headers['content-type'] ?? ''))
}

function htmlError(url: string): DownloadError {
  return new DownloadError(
    'html',
    url,
    `${url} sent an HTML page instead of the library (an error or login page?). Check the base URL: it must serve the files themselves.`,
  )
}

function truncatedError(url: string, got: number, want: number | undefined): DownloadError {
  return new DownloadError(
    'truncated',
    url,
    `The download of ${url} was cut off after ${got}${want === undefined ? '' : ` of ${want}`} bytes. Try again; if it keeps happening the mirror is broken.`,
  )
}

/**
 * Opens `url` under the overall deadline (opts.deadlineMs), which the caller keeps for the body.
 * When opening fails, `cleanup` runs first; a failure past the deadline is reported as the deadline.
 */
async function openWithDeadline(
  url: string,
  opts: RequestOptions,
  cleanup?: () => Promise<void>,
): Promise<{ res: IncomingMessage; finalUrl: string; deadline: AbortSignal; deadlineMs: number }> {
  const deadlineMs = opts.deadlineMs ?? DEFAULT_DEADLINE_MS
  const deadline = AbortSignal.timeout(deadlineMs)
  try {
    const { res, url: finalUrl } = await openUrl(url, opts, deadline)
    return { res, finalUrl, deadline, deadlineMs }
  } catch (err) {
    await cleanup?.()
    if (deadline.aborted) throw deadlineError(url, deadlineMs)
    throw err
  }
}

/**
 * Streams `url` into `dest` (a new file; the caller picks a temp path and removes it on failure).
 * Rejects HTML (by content-type or a leading `<`), checks the size against Content-Length and
 * reports progress. Returns the byte count and sha256 of what was written.
 */
export async function downloadToFile(
  url: string,
  dest: string,
  opts: DownloadOptions,
): Promise<DownloadResult> {
  // The file is opened before the request: a write stream that opens lazily can create it after a
  // failed pipeline has returned and the caller has removed it (a stray temp file), and an await
  // between the response and the pipe would lose bytes that arrived before a cut-off.
  const file = await open(dest, 'wx')
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_DOWNLOAD_BYTES
  const { res, finalUrl, deadline, deadlineMs } = await openWithDeadline(url, opts, () => file.close())
  if (isHtmlType(res)) {
    res.destroy()
    await file.close()
    throw htmlError(finalUrl)
  }
  const total = contentLength(res)
  if (total !== undefined && total > maxBytes) {
    res.destroy()
    await file.close()
    throw tooLargeError(finalUrl, maxBytes)
  }
  const hash = createHash('sha256')
  let received = 0
  let first = true
  const meter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      if (first && chunk.length > 0) {
        first = false
        if (isHtml(chunk)) return done(htmlError(finalUrl))
      }
      received += chunk.length
      if (received > maxBytes) return done(tooLargeError(finalUrl, maxBytes))
      hash.update(chunk)
      opts.onProgress?.(received, total)
      done(null, chunk)
    },
  })
  const socket = res.socket
  const onTimeout = () => res.destroy(timeoutError(finalUrl, opts.timeoutMs))
  socket?.setTimeout(opts.timeoutMs, onTimeout)
  const out = file.createWriteStream()
  try {
    await pipeline(res, meter, out, { signal: deadline })
  } catch (err) {
    if (err instanceof DownloadError) throw err
    if (deadline.aborted) throw deadlineError(finalUrl, deadlineMs)
    const e = err as NodeJS.ErrnoException
    if (e.code === 'ECONNRESET' || e.code === 'ERR_STREAM_PREMATURE_CLOSE' || /aborted/i.test(e.message))
      throw truncatedError(finalUrl, received, total)
    throw networkError(e, finalUrl, opts.timeoutMs)
  } finally {
    socket?.setTimeout(0)
    socket?.off('timeout', onTimeout)
    if (!out.closed) await once(out, 'close').catch(() => {})
  }
  if (!res.complete || (total !== undefined && received !== total))
    throw truncatedError(finalUrl, received, total)
  return { bytes: received, sha256: hash.digest('hex'), finalUrl }
}

/** Fetches a small text document (JSON, checksum), at most `maxBytes`. */
export async function fetchText(url: string, opts: RequestOptions & { maxBytes?: number }): Promise<string> {
  const { res, finalUrl, deadline, deadlineMs } = await openWithDeadline(url, opts)
  const onDeadline = () => res.destroy(deadlineError(finalUrl, deadlineMs))
  deadline.addEventListener('abort', onDeadline, { once: true })
  const max = opts.maxBytes ?? 1_000_000
  const chunks: Buffer[] = []
  let size = 0
  const socket = res.socket
  const onTimeout = () => res.destroy(timeoutError(finalUrl, opts.timeoutMs))
  socket?.setTimeout(opts.timeoutMs, onTimeout)
  try {
    for await (const chunk of res as AsyncIterable<Buffer>) {
      size += chunk.length
      if (size > max) {
        res.destroy()
        throw new DownloadError(
          'too-large',
          finalUrl,
          `${finalUrl} is larger than ${max} bytes; this is not the small file expected.`,
        )
      }
      chunks.push(chunk)
    }
  } catch (err) {
    if (err instanceof DownloadError) throw err
    const e = err as NodeJS.ErrnoException
    if (e.code === 'ECONNRESET' || /aborted/i.test(e.message))
      throw truncatedError(finalUrl, size, contentLength(res))
    throw networkError(e, finalUrl, opts.timeoutMs)
  } finally {
    socket?.setTimeout(0)
    socket?.off('timeout', onTimeout)
    deadline.removeEventListener('abort', onDeadline)
  }
  if (!res.complete) throw truncatedError(finalUrl, size, contentLength(res))
  return Buffer.concat(chunks).toString('utf8')
}

/** Parses a `.sha256` file: the first 64-hex-digit word (as `sha256sum` writes it). */
export function parseSha256File(text: string): string | undefined {
  const m = /\b([0-9a-fA-F]{64})\b/.exec(text)
  return m ? m[1].toLowerCase() : undefined
}
