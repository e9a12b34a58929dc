/** What the built-in app templates (templates/*) are expected to write, shared by the scaffold and create tests. */

/** The files each built-in template writes into a new app, as paths relative to the app folder. */
export const TEMPLATE_FILES: Readonly<Record<string, readonly string[]>> = {
  lua: [
    '.dockerignore',
    '.gitignore',
    'Dockerfile',
    'README.md',
    'allo/allonet.lock',
    'allo/assist',
    'allo/boot.lua',
    'images/quit.png',
    'info.json',
    'lua/main.lua',
  ],
  minimal: [
    '.dockerignore',
    '.gitignore',
    'Dockerfile',
    'allo/allonet.lock',
    'allo/assist',
    'allo/boot.lua',
    'info.json',
    'lua/main.lua',
  ],
}
