-- allo/boot.lua: starts this app. You rarely need to edit it.
--
-- `assist run` (and `./allo/assist run`) start it as:
--     luajit allo/boot.lua <app folder> <place URL>
-- It prepares Lua for alloui, loads the native allonet library, reads the launch arguments a
-- place sent (when the app was launched through `assist serve`), then runs lua/main.lua.

local appDir = arg[1] or "."
local alloui = appDir .. "/allo/deps/alloui"

-- 1. Where `require` looks: your code first, then alloui and the libraries it brings
--    (cpml for vectors and matrices, Penlight for classes and table helpers).
package.path = table.concat({
    appDir .. "/lua/?.lua",
    appDir .. "/allo/?.lua",
    alloui .. "/lua/?.lua",
    alloui .. "/lib/cpml/?.lua",
    alloui .. "/lib/pl/lua/?.lua",
    package.path,
}, ";")

-- 2. The native network library, put into allo/lib by `assist fetch --build` (or `assist fetch`).
local ffi = require("ffi")
local libDir = appDir .. "/allo/lib/"
local libFiles = { OSX = "liballonet.dylib", Windows = "allonet.dll" }
local libPath = libDir .. (libFiles[ffi.os] or "liballonet.so")
local loaded, lib = pcall(ffi.load, libPath, false)
if not loaded then
    io.stderr:write("Could not load the allonet library ", libPath, ": ", tostring(lib), "\n",
        "Run `assist fetch --build` in ", appDir, " to build it (or `assist fetch` with a download mirror).\n")
    os.exit(1)
end
allonet = lib -- alloui finds the library through this global

-- Video support is optional: use liballonet_av when it is there.
local avPath = libDir .. (ffi.os == "Windows" and "allonet_av.dll" or ffi.os == "OSX" and "liballonet_av.dylib" or "liballonet_av.so")
local avFile = io.open(avPath, "rb")
local hasAv = false
if avFile then
    avFile:close()
    hasAv = pcall(function()
        ffi.load(avPath, true)
        ffi.cdef("void allo_libav_initialize(void);")
        ffi.C.allo_libav_initialize()
    end)
end

-- 3. alloui and the helpers apps use everywhere, as globals.
Client = require("alloui.client")
ui = require("alloui.ui")
class = require("pl.class")
tablex = require("pl.tablex")
pretty = require("pl.pretty")
vec3 = require("modules.vec3")
mat4 = require("modules.mat4")
if ui.VideoSurface then ui.VideoSurface.libavAvailable = hasAv end

-- 4. Launch arguments: the JSON a place sent when it asked a gateway to launch this app.
--    `initialLocation` (16 numbers) places the app; `avatarToken` lets the place match the app to
--    the request. alloui reads both from ui.App when the app connects.
ui.App.launchArguments = {}
ui.App.initialLocation = nil
local bootArgs = os.getenv("ALLO_APP_BOOT_ARGS")
if bootArgs and bootArgs ~= "" then
    local json = require("alloui.json")
    local ok, decoded = pcall(json.decode, bootArgs)
    if ok and type(decoded) == "table" then
        ui.App.launchArguments = decoded
        if type(decoded.initialLocation) == "table" then
            ui.App.initialLocation = mat4(decoded.initialLocation)
        end
    else
        io.stderr:write("Ignoring ALLO_APP_BOOT_ARGS: not a JSON object\n")
    end
end

-- 5. Your app.
require("main")
