-- __PROJNAME__: an Alloverse app (minimal template). allo/boot.lua runs this file with alloui
-- loaded (globals Client and ui); arg[2] is the place URL.
local client = Client(arg[2], "__PROJNAME__")
local app = ui.App(client)

-- An empty main view, 1 m wide, 1.2 m above the floor. Add views to it with :addSubview().
app.mainView = ui.View(ui.Bounds(0, 1.2, -2, 1, 0.5, 0.01))

app:connect()
app:run()
