/** "Did you mean …?" for a mistyped command or flag. Pure. */

/** Levenshtein edit distance (insert, delete, substitute; each costs 1). */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const cur = [i]
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    prev = cur
  }
  return prev[b.length]
}

/**
 * The candidate closest to `input`, if it is close enough to be what was meant: at most a third of
 * the longer word's letters differ (at least 2 edits allowed), or one starts with the other.
 * Ties go to the earlier candidate.
 */
export function closest(input: string, candidates: readonly string[]): string | undefined {
  let best: { word: string; distance: number } | undefined
  for (const word of candidates) {
    const distance = editDistance(input.toLowerCase(), word.toLowerCase())
    if (!best || distance < best.distance) best = { word, distance }
  }
  if (!best) return undefined
  const limit = Math.max(2, Math.floor(Math.max(input.length, best.word.length) / 3))
  if (best.distance <= limit) return best.word
  const prefix = candidates.find((w) => input.length >= 2 && (w.startsWith(input) || input.startsWith(w)))
  return prefix
}
