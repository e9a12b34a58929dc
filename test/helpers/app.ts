/**
 * Small real Lua apps in temp folders, for tests that run real luajit.
 *
 * The boot script records its argv and selected environment to `record.json` in the app root
 * (rewritten atomically on every start, with a start counter in `starts.log`), prints `booted <n>` and keeps
 * running until killed — like a real app's run loop.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'

export const RECORDING_BOOT_LUA = `-- test boot script: records how it was started, then idles like an app
local root, url = arg[1], arg[2]
local function esc(s)
  if s == nil then return 'null' end
  return '"' .. s:gsub('\\\\', '\\\\\\\\'):gsub('"', '\\\\"'):gsub('\\n', '\\\\n'):gsub('\\r', '\\\\r'):gsub('\\t', '\\\\t') .. '"'
end
local n = 1
local f = io.open(root .. '/starts.log', 'r')
if f then for _ in f:lines() do n = n + 1 end f:close() end
f = io.open(root .. '/starts.log', 'a') f:write('start\\n') f:close()
-- written aside and renamed into place, so a reader never sees a half-written record
local out = io.open(root .. '/record.json.tmp', 'w')
out:write('{"argv0":', esc(arg[0]), ',"args":[', esc(arg[1]), ',', esc(arg[2]), ']')
out:write(',"boot_args":', esc(os.getenv('ALLO_APP_BOOT_ARGS')))
out:write(',"identity":', esc(os.getenv('ALLO_APP_BOOTED_BY_IDENTITY')))
out:write(',"pwd":', esc(os.getenv('PWD')), ',"marker":', esc(os.getenv('TEST_MARKER')), '}')
out:close()
assert(os.rename(root .. '/record.json.tmp', root .. '/record.json'))
io.stdout:write('booted ', n, ' ', url, '\\n') io.stdout:flush()
local mode = os.getenv('TEST_APP_MODE') or ''
if mode == 'crash' then io.stderr:write('boom: something broke\\n') os.exit(3) end
if mode == 'exit0' then os.exit(0) end
if mode == 'child' then os.execute('sleep 1000 & echo $! > "' .. root .. '/child.pid"') end
if mode == 'writelog' then
  local w = io.open(root .. '/app.log', 'a') w:write('hello\\n') w:close()
  local c = io.open(root .. '/cache.dat', 'w') c:write('x') c:close()
end
while true do os.execute('sleep 0.2') end
`

export interface LuaAppOptions {
  /** 'boot' (allo/boot.lua) or 'alloui' (allo/deps/alloui/lua/alloui/app_boot.lua). */
  layout?: 'boot' | 'alloui'
  /** Create allo/lib/liballonet.so (a stand-in file; default true). */
  withLib?: boolean
  /** Extra files: path → content. */
  files?: Record<string, string>
  /** Boot script source (default RECORDING_BOOT_LUA). */
  boot?: string
}

export function tempDir(prefix = 'assist-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix))
}

export function writeFile(path: string, content: string, mode?: number): void {
  mkdirSync(dirname(path), { recursive: true })
  writeFileSync(path, content)
  if (mode !== undefined) chmodSync(path, mode)
}

/** Creates a Lua app folder named `name` inside `parent` (a new temp dir by default) and returns its root. */
export function makeLuaApp(name = 'testapp', opts: LuaAppOptions = {}, parent = tempDir()): string {
  const root = join(parent, name)
  const bootPath = opts.layout === 'alloui' ? 'allo/deps/alloui/lua/alloui/app_boot.lua' : 'allo/boot.lua'
  writeFile(join(root, 'lua/main.lua'), `-- ${name}\nprint("main")\n`)
  writeFile(join(root, bootPath), opts.boot ?? RECORDING_BOOT_LUA)
  writeFile(join(root, 'info.json'), JSON.stringify({ display_name: name, author: 'tests' }))
  // What the recording boot script writes into the app folder is git-ignored, as a real app's caches would be.
  writeFile(join(root, '.gitignore'), 'record.json\nrecord.json.tmp\nstarts.log\nchild.pid\n*.dat\n')
  if (opts.withLib !== false) writeFile(join(root, 'allo/lib/liballonet.so'), 'stand-in library for tests\n')
  for (const [path, content] of Object.entries(opts.files ?? {})) writeFile(join(root, path), content)
  return root
}

export function removeDir(path: string): void {
  rmSync(path, { recursive: true, force: true })
}
