/** A full listing of a folder (paths, types, modes, sizes, content hashes) to compare before/after. */
import { createHash } from 'node:crypto'
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs'
import { join } from 'node:path'

export function snapshot(root: string): string[] {
  const out: string[] = []
  const walk = (dir: string, rel: string) => {
    let entries: string[]
    try {
      entries = readdirSync(dir).sort()
    } catch {
      return
    }
    for (const e of entries) {
      const p = join(dir, e)
      const r = rel ? `${rel}/${e}` : e
      const st = lstatSync(p)
      const mode = (st.mode & 0o7777).toString(8)
      if (st.isDirectory()) {
        out.push(`${r}/ d ${mode}`)
        walk(p, r)
      } else if (st.isSymbolicLink()) out.push(`${r} l -> ${readlinkSync(p)}`)
      else if (st.isFile()) {
        const hash = createHash('sha1').update(readFileSync(p)).digest('hex').slice(0, 12)
        out.push(`${r} f ${mode} ${st.size} ${hash}`)
      } else out.push(`${r} other ${mode}`)
    }
  }
  walk(root, '')
  return out
}
