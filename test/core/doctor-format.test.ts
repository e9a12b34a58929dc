import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Chalk } from 'chalk'
import { formatDoctor, nodeCheck } from '../../src/core/doctor.js'

const plain = new Chalk({ level: 0 })

test('table: ✓/✗ aligned, a fix line under each ✗, a summary', () => {
  const text = formatDoctor(
    [
      { name: 'Node.js', ok: true, detail: 'v22.1.0' },
      { name: 'allonet library', ok: false, detail: 'missing', fix: 'run `assist fetch`' },
    ],
    plain,
  )
  assert.equal(
    text,
    [
      '✓ Node.js          v22.1.0',
      '✗ allonet library  missing',
      '                   fix: run `assist fetch`',
      '',
      '1 of 2 checks failed.',
      '',
    ].join('\n'),
  )
  assert.match(formatDoctor([{ name: 'a', ok: true, detail: 'd' }], plain), /All 1 checks passed\./)
})

test('Node version check', () => {
  assert.equal(nodeCheck('20.19.0').ok, true)
  assert.equal(nodeCheck('24.0.0').ok, true)
  assert.equal(nodeCheck('v20.18.3').ok, false)
  assert.match(nodeCheck('18.20.0').fix ?? '', /Node\.js 20\.19/)
})
