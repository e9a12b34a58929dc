/** Everything the launcher needs to start one app instance. */
export interface LaunchSpec {
  argv: string[]
  cwd: string
  /** Added to the parent's environment. */
  env: Record<string, string>
}

export interface RuntimeOptions {
  /** Explicit LuaJIT binary (--luajit); falls back to ALLO_LUAJIT in `env`. */
  luajit?: string
  /** false: pass alloui's poll timeout unchanged (--no-poll-fix). */
  pollFix?: boolean
  /** Environment to read ALLO_LUAJIT and PATH from (defaults to process.env). */
  env?: NodeJS.ProcessEnv
}
