/**
 * Just enough Markdown for checking the docs' links the way GitHub renders them: headings and
 * their anchors (GitHub's slugs), and the links and images outside code.
 */
import { existsSync, readFileSync, statSync } from 'node:fs'
import { dirname, relative, resolve } from 'node:path'

/** Markdown with fenced code blocks blanked out (line numbers kept). */
function withoutFences(md: string): string[] {
  let fence: string | undefined
  return md.split('\n').map((line) => {
    const m = /^ {0,3}(`{3,}|~{3,})/.exec(line)
    if (fence) {
      if (m && m[1][0] === fence[0] && m[1].length >= fence.length) fence = undefined
      return ''
    }
    if (m) {
      fence = m[1]
      return ''
    }
    return line
  })
}

/** The text GitHub shows for a heading's Markdown: code spans, links, emphasis and tags unwrapped. */
export function headingText(raw: string): string {
  return raw
    .replace(/`+([^`]*)`+/g, '$1')
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/<[^>]+>/g, '')
    .replace(/\*+/g, '')
    .trim()
}

/** GitHub's anchor for a heading text: lower case, punctuation dropped, each space a hyphen. */
export function githubSlug(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, '')
    .replace(/ /g, '-')
}

/** Every anchor a Markdown file has: its headings' slugs (repeats get -1, -2 …) and explicit ids. */
export function anchorsOf(md: string): Set<string> {
  const anchors = new Set<string>()
  const seen = new Map<string, number>()
  for (const line of withoutFences(md)) {
    const h = /^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)
    if (h) {
      const base = githubSlug(headingText(h[1]))
      const n = seen.get(base) ?? 0
      seen.set(base, n + 1)
      anchors.add(n === 0 ? base : `${base}-${n}`)
    }
    for (const m of line.matchAll(/<a\s+(?:name|id)="([^"]+)"/g)) anchors.add(m[1])
  }
  return anchors
}

export interface Link {
  target: string
  line: number
}

/** Links and images outside code (inline `[text](target)` and reference definitions). */
export function linksOf(md: string): Link[] {
  const links: Link[] = []
  withoutFences(md).forEach((raw, i) => {
    const line = raw.replace(/(`+)(?:(?!\1).)+\1/g, 'code')
    for (const m of line.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g))
      links.push({ target: m[1], line: i + 1 })
    const def = /^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$/.exec(line)
    if (def) links.push({ target: def[1], line: i + 1 })
  })
  return links
}

/**
 * Every relative link or #anchor in `files` that does not resolve: the file (or folder) must exist
 * and an anchor must be one of the target Markdown file's anchors. Web and mail links are not
 * followed. Returns one line per problem, `file:line: target — why`.
 */
export function brokenLinks(files: string[], root: string): string[] {
  const problems: string[] = []
  const anchorCache = new Map<string, Set<string>>()
  const anchors = (file: string) => {
    let a = anchorCache.get(file)
    if (!a) {
      a = anchorsOf(readFileSync(file, 'utf8'))
      anchorCache.set(file, a)
    }
    return a
  }
  for (const file of files) {
    for (const { target, line } of linksOf(readFileSync(file, 'utf8'))) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue // https:, mailto:, …
      const where = `${relative(root, file)}:${line}: ${target}`
      const hash = target.indexOf('#')
      const path = decodeURIComponent(hash >= 0 ? target.slice(0, hash) : target)
      const anchor = hash >= 0 ? decodeURIComponent(target.slice(hash + 1)) : undefined
      const dest = path === '' ? file : resolve(dirname(file), path)
      if (!existsSync(dest)) {
        problems.push(`${where} — ${relative(root, dest)} does not exist`)
        continue
      }
      if (anchor === undefined) continue
      if (statSync(dest).isDirectory() || !dest.endsWith('.md')) {
        problems.push(`${where} — an anchor into something that is not a Markdown file`)
      } else if (!anchors(dest).has(anchor)) {
        problems.push(`${where} — ${relative(root, dest)} has no heading with the anchor #${anchor}`)
      }
    }
  }
  return problems
}
