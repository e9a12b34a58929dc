/**
 * A stand-in for alloui-lua (and the Penlight/cpml it carries) with the same module names and the
 * API the templates use: Client(url, name), ui.App, ui.View/Surface/Button/GrabHandle, ui.Bounds,
 * ui.Asset.File, app.assetManager:add, button.label:setText, :setDefaultTexture, app:quit().
 *
 * The real alloui needs a real place to talk to; this one records what the app did to the JSON
 * file named by STANDIN_RECORD, and its app:run() presses every button once, in the order they
 * were added (so the template's Hello button prints and its quit button ends the run loop).
 */

export const JSON_LUA = `-- minimal JSON for the stand-in: decode objects, arrays, strings, numbers, booleans
local json = {}
local function skip(s, i) return s:find("%S", i) or #s + 1 end
local parse
local function str(s, i)
  local out, j = {}, i + 1
  while true do
    local c = s:sub(j, j)
    if c == '"' then return table.concat(out), j + 1 end
    if c == "\\\\" then
      local e = s:sub(j + 1, j + 1)
      local map = { n = "\\n", t = "\\t", r = "\\r", b = "\\b", f = "\\f" }
      out[#out + 1] = map[e] or e
      j = j + 2
    else out[#out + 1] = c; j = j + 1 end
  end
end
parse = function(s, i)
  i = skip(s, i)
  local c = s:sub(i, i)
  if c == "{" then
    local t = {}
    i = skip(s, i + 1)
    if s:sub(i, i) == "}" then return t, i + 1 end
    while true do
      local k; k, i = str(s, skip(s, i))
      i = skip(s, i) + 1 -- ':'
      t[k], i = parse(s, i)
      i = skip(s, i)
      local d = s:sub(i, i); i = i + 1
      if d == "}" then return t, i end
    end
  elseif c == "[" then
    local t = {}
    i = skip(s, i + 1)
    if s:sub(i, i) == "]" then return t, i + 1 end
    while true do
      t[#t + 1], i = parse(s, i)
      i = skip(s, i)
      local d = s:sub(i, i); i = i + 1
      if d == "]" then return t, i end
    end
  elseif c == '"' then return str(s, i)
  elseif s:sub(i, i + 3) == "true" then return true, i + 4
  elseif s:sub(i, i + 4) == "false" then return false, i + 5
  elseif s:sub(i, i + 3) == "null" then return nil, i + 4
  else
    local num = s:match("^-?[%d%.eE+-]+", i)
    if not num then error("bad JSON at " .. i) end
    return tonumber(num), i + #num
  end
end
function json.decode(s) local v = parse(s, 1) return v end
function json.encode(v)
  local t = type(v)
  if t == "table" then
    if #v > 0 or next(v) == nil then
      local parts = {}
      for _, x in ipairs(v) do parts[#parts + 1] = json.encode(x) end
      return "[" .. table.concat(parts, ",") .. "]"
    end
    local parts, keys = {}, {}
    for k, x in pairs(v) do if type(x) ~= "function" then keys[#keys + 1] = k end end
    table.sort(keys)
    for _, k in ipairs(keys) do parts[#parts + 1] = json.encode(k) .. ":" .. json.encode(v[k]) end
    return "{" .. table.concat(parts, ",") .. "}"
  elseif t == "string" then
    return '"' .. v:gsub('[%c"\\\\]', function(c) return string.format("\\\\u%04x", c:byte()) end) .. '"'
  elseif v == nil then return "null"
  else return tostring(v) end
end
return json
`

const RECORD_LUA = `-- collects what the app does; written as JSON when the run loop ends
local json = require("alloui.json")
local record = { events = {} }
function record.event(...) record.events[#record.events + 1] = table.concat({...}, " ") end
function record.save()
  local f = assert(io.open(assert(os.getenv("STANDIN_RECORD"), "STANDIN_RECORD not set"), "w"))
  f:write(json.encode(record)) f:close()
end
return record
`

const CLIENT_LUA = `local ffi = require("ffi")
local record = require("alloui.standin_record")
-- the boot script must have loaded the native library into the global "allonet"
ffi.cdef("int allo_standin_answer(void);")
record.native_answer = allonet.allo_standin_answer()
local Client = {}
Client.__index = Client
setmetatable(Client, { __call = function(_, url, name)
  record.event("client", tostring(url), tostring(name))
  return setmetatable({ url = url, name = name }, Client)
end })
return Client
`

const UI_LUA = `local record = require("alloui.standin_record")
local ui = { VideoSurface = {} }
local buttons = {}

function ui.Bounds(x, y, z, w, h, d) return { x = x, y = y, z = z, w = w, h = h, d = d } end

local function class(name, init)
  local c = {}
  c.__index = c
  setmetatable(c, { __call = function(_, ...)
    local o = setmetatable({ kind = name, subviews = {} }, c)
    if init then init(o, ...) end
    return o
  end })
  return c
end

ui.View = class("View", function(self, bounds) self.bounds = bounds end)
function ui.View:addSubview(v)
  table.insert(self.subviews, v)
  record.event("addSubview", self.kind, v.kind)
  if v.kind == "Button" then table.insert(buttons, v) end
  return v
end
function ui.View:setColor(c) self.color = c end
ui.Surface = class("Surface", function(self, bounds) self.bounds = bounds end)
ui.Surface.addSubview = ui.View.addSubview
ui.Surface.setColor = ui.View.setColor
ui.GrabHandle = class("GrabHandle", function(self, bounds) self.bounds = bounds end)
ui.Button = class("Button", function(self, bounds)
  self.bounds = bounds
  self.label = { setText = function(_, t) self.text = t record.event("label", t) end }
end)
ui.Button.addSubview = ui.View.addSubview
function ui.Button:setDefaultTexture(asset) self.texture = asset record.event("texture", asset.path) end

ui.Asset = { File = function(path, load)
  -- read-write, as the real alloui's FileAsset opens it (io.open(path, "r+b")): the app's files
  -- must be writable by the user running it (see the Dockerfile's COPY --chown)
  local f = io.open(path, "r+b")
  local size = f and f:seek("end") or -1
  if f then f:close() end
  record.event("asset", path, tostring(size))
  return { path = path, id = function() return "asset:" .. path end }
end }

ui.App = class("App", function(self, client)
  self.client = client
  self.running = true
  self.assetManager = { add = function(_, assets) for k, a in pairs(assets) do record.event("published", k, a.path) end end }
end)
ui.App.launchArguments = {}
function ui.App:connect()
  record.event("connect", self.client.url, self.mainView and self.mainView.kind or "none")
  record.avatarToken = ui.App.launchArguments.avatarToken
  record.initialLocation = ui.App.initialLocation
end
function ui.App:quit() record.event("quit") self.running = false end
function ui.App:run()
  for _, b in ipairs(buttons) do
    if not self.running then break end
    record.event("press", b.text or b.texture and "texture:" .. b.texture.path or "?")
    if b.onActivated then b.onActivated() end
  end
  record.event("run-ended", tostring(self.running))
  record.save()
end
return ui
`

/** Files of the stand-in alloui repository (lib/pl comes from the Penlight stand-in, a submodule). */
export const ALLOUI_STANDIN_FILES: Record<string, string> = {
  'lua/alloui/json.lua': JSON_LUA,
  'lua/alloui/standin_record.lua': RECORD_LUA,
  'lua/alloui/client.lua': CLIENT_LUA,
  'lua/alloui/ui.lua': UI_LUA,
  'lib/cpml/modules/vec3.lua':
    'return setmetatable({}, { __call = function(_, x, y, z) return { x, y, z } end })\n',
  'lib/cpml/modules/mat4.lua':
    'return setmetatable({}, { __call = function(_, t) local m = { kind = "mat4" } for i, v in ipairs(t or {}) do m[i] = v end return m end })\n',
}

/** Files of the stand-in Penlight repository. */
export const PENLIGHT_STANDIN_FILES: Record<string, string> = {
  'lua/pl/class.lua': 'return setmetatable({}, { __index = function() return function() end end })\n',
  'lua/pl/tablex.lua': 'return {}\n',
  'lua/pl/pretty.lua': 'return { write = tostring }\n',
}

/** C source of a stand-in liballonet: one function the stand-in client calls through the FFI. */
export const LIBALLONET_STANDIN_C = 'int allo_standin_answer(void) { return 42; }\n'
