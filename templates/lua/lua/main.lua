-- __PROJNAME__: an Alloverse app.
--
-- allo/boot.lua runs this file after it has loaded alloui. These globals are ready to use:
--   Client, ui           alloui's network client and its views (ui.Surface, ui.Button, ui.Label, …)
--   class, tablex, pretty Penlight helpers;  vec3, mat4  vectors and matrices
-- arg[2] is the URL of the place to connect to, e.g. alloplace://localhost
--
-- Run it:  assist run   (in the built-in place, with a web view; restarts on every save)

-- The client is this app's connection to the place. The name is what people see in the place.
local client = Client(arg[2], "__PROJNAME__")

-- The app owns the views and runs the network loop.
local app = ui.App(client)

-- Files the place may show (textures, 3D models) are "assets": the app serves them to every
-- visor that needs them. Paths are relative to the app folder.
local assets = {
    quit = ui.Asset.File("images/quit.png", true),
}
app.assetManager:add(assets)

-- Every view is placed with ui.Bounds(x, y, z, width, height, depth), in metres, relative to the
-- view it is added to. Here: a 1 m × 0.5 m board whose centre is 1.2 m above the floor.
local board = ui.Surface(ui.Bounds(0, 1.2, -2, 1, 0.5, 0.01))
board:setColor({0.15, 0.17, 0.22, 1})

-- A button prints in the terminal where the app runs each time someone presses it.
local hello = ui.Button(ui.Bounds(0, -0.05, 0.05, 0.4, 0.15, 0.05))
hello.label:setText("Hello")
hello.onActivated = function()
    print("Hello from __PROJNAME__!")
end
board:addSubview(hello)

-- A quit button in the top right corner, textured with images/quit.png. app:quit() ends the run
-- loop; the app then leaves the place and the process exits.
local quit = ui.Button(ui.Bounds(0.42, 0.17, 0.05, 0.1, 0.1, 0.05))
quit:setDefaultTexture(assets.quit)
quit.onActivated = function()
    print("__PROJNAME__ is quitting")
    app:quit()
end
board:addSubview(quit)

-- A grab handle lets people move the board around.
board:addSubview(ui.GrabHandle(ui.Bounds(-0.55, 0, 0.05, 0.1, 0.1, 0.1)))

-- The main view is what the app shows first. connect() announces the app to the place;
-- run() handles network traffic until app:quit() is called or the place goes away.
app.mainView = board
app:connect()
app:run()
