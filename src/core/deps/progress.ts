/** A progress sink for downloads and builds: a cli-progress bar on a TTY, silence otherwise. */

export interface Progress {
  /** Bytes (or percent when `unit` is '%') done so far, out of `total` when known. */
  update(done: number, total?: number): void
  stop(): void
}

export const silentProgress: Progress = { update() {}, stop() {} }

function mib(n: number): string {
  return `${(n / 1048576).toFixed(1)} MiB`
}

/** A progress bar on `stream` when it is a TTY (cli-progress, loaded lazily); a no-op otherwise. */
export async function terminalProgress(
  label: string,
  unit: 'bytes' | '%',
  stream: NodeJS.WriteStream = process.stderr,
): Promise<Progress> {
  if (!stream.isTTY) return silentProgress
  const { default: cliProgress } = await import('cli-progress')
  const bar = new cliProgress.SingleBar(
    {
      stream,
      format: `${label} [{bar}] {percentage}%${unit === 'bytes' ? ' {value_h}/{total_h}' : ''}`,
      hideCursor: true,
      clearOnComplete: true,
      barsize: 30,
    },
    cliProgress.Presets.shades_classic,
  )
  let started = false
  return {
    update(done, total) {
      const t = unit === '%' ? 100 : (total ?? Math.max(done, 1))
      const payload = {
        value_h: unit === 'bytes' ? mib(done) : `${done}%`,
        total_h: unit === 'bytes' ? (total === undefined ? '?' : mib(total)) : '100%',
      }
      if (!started) {
        bar.start(t, done, payload)
        started = true
        return
      }
      bar.setTotal(t)
      bar.update(done, payload)
    },
    stop() {
      if (started) bar.stop()
      started = false
    },
  }
}
