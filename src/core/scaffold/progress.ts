/**
 * Progress for long steps: a listr2 task list on a terminal, one plain line per event otherwise.
 * listr2 is imported only when there is something long to show.
 */
import type { Context } from './context.js'

export interface ProgressTask {
  title: string
  /** Does the work; `report` shows a line of the tool's output under the task. */
  run: (report: (line: string) => void) => Promise<void>
}

/** Runs the tasks in order; rejects with the first task's error. */
export async function runTasks(tasks: ProgressTask[], ctx: Pick<Context, 'tty' | 'log'>): Promise<void> {
  if (!ctx.tty) {
    for (const t of tasks) {
      ctx.log(`• ${t.title}…`)
      try {
        await t.run(() => {})
      } catch (err) {
        ctx.log(`✖ ${t.title}`)
        throw err
      }
      ctx.log(`✔ ${t.title}`)
    }
    return
  }
  const { Listr } = await import('listr2')
  const list = new Listr(
    tasks.map((t) => ({
      title: t.title,
      task: async (_: unknown, task: { output: string }) => {
        await t.run((line) => {
          if (line.trim()) task.output = line.trim()
        })
      },
    })),
    {
      concurrent: false,
      exitOnError: true,
      registerSignalListeners: false,
      rendererOptions: { collapseErrors: false },
    },
  )
  await list.run()
}
