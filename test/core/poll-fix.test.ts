/**
 * The poll fix's settings and doctor's reading of an alloui (pure functions, no processes), and the
 * alloapp.json key's validation.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { allouiPollUnits } from '../../src/core/doctor.js'
import { isUserError } from '../../src/core/errors.js'
import { loadProject } from '../../src/core/project.js'
import { launchSpecFor } from '../../src/core/runtimes/index.js'
import { POLL_FIX_ENV, pollFixNote, pollFixSetting } from '../../src/core/runtimes/lua.js'
import { CLIENT_LUA } from '../helpers/alloui-realshape.js'
import { makeLuaApp, writeFile } from '../helpers/app.js'

const ENV = { PATH: process.env.PATH }

describe('poll fix setting', () => {
  test('on by default; off by --no-poll-fix, ALLO_ASSIST_POLL_FIX=0 or "pollFix": false, each named', () => {
    const plain = loadProject(makeLuaApp('pf'))
    assert.deepEqual(pollFixSetting(plain, { env: ENV }), { on: true, source: 'default' })
    assert.equal(pollFixSetting(plain, { env: ENV, pollFix: false }).source, '--no-poll-fix')
    assert.equal(pollFixSetting(plain, { env: { ...ENV, [POLL_FIX_ENV]: '0' } }).source, `${POLL_FIX_ENV}=0`)
    const off = makeLuaApp('pfoff', { files: { 'alloapp.json': '{"pollFix": false}' } })
    assert.equal(pollFixSetting(loadProject(off), { env: ENV }).on, false)
    assert.match(pollFixNote(plain, { env: ENV }), /^poll fix on: /)
    assert.match(
      pollFixNote(loadProject(off), { env: ENV }),
      /^poll fix off \("pollFix": false in alloapp\.json\)/,
    )
  })

  test('the launch spec tells assist-boot.lua (ALLO_ASSIST_POLL_FIX=0) only when it is off', () => {
    const project = loadProject(makeLuaApp('pfspec'))
    assert.equal(launchSpecFor(project, 'alloplace://h:1', { env: ENV }).env[POLL_FIX_ENV], undefined)
    assert.equal(
      launchSpecFor(project, 'alloplace://h:1', { env: ENV, pollFix: false }).env[POLL_FIX_ENV],
      '0',
    )
  })

  test('"pollFix" that is not a boolean is a one-line error naming the file', () => {
    const root = makeLuaApp('pfbad')
    writeFile(join(root, 'alloapp.json'), '{"pollFix": "no"}')
    assert.throws(
      () => loadProject(root),
      (e: Error) => isUserError(e) && /alloapp\.json: "pollFix" must be true or false/.test(e.message),
    )
  })
})

describe("doctor's reading of alloui's Client:poll", () => {
  test('seconds handed straight to alloclient_poll (alloui today, and the stand-in)', () => {
    assert.equal(allouiPollUnits(CLIENT_LUA), 'seconds')
    const alloui =
      'function Client:poll(timeout)\n    return self.handle.alloclient_poll(self._client, timeout)\nend\n'
    assert.equal(allouiPollUnits(alloui), 'seconds')
  })
  test('converted to milliseconds; unknown when there is no such function', () => {
    const fixed =
      'function Client:poll(timeout)\n  return self.handle.alloclient_poll(self._client, math.floor(timeout * 1000))\nend\n'
    assert.equal(allouiPollUnits(fixed), 'milliseconds')
    assert.equal(allouiPollUnits('local Client = {}\nreturn Client\n'), undefined)
  })
})
