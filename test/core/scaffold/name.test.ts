import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { isUserError } from '../../../src/core/errors.js'
import {
  appNameProblem,
  checkAppName,
  defaultDisplayName,
  defaultNameFor,
  suggestAppName,
  textProblem,
} from '../../../src/core/scaffold/name.js'
import { BAD_NAMES } from '../../helpers/names.js'

test('valid app names', () => {
  for (const ok of ['a', 'my-app', 'clock_2', 'x'.repeat(64), 'a-b_c-1', 'console']) {
    assert.equal(appNameProblem(ok), undefined, ok)
  }
})

test('bad app names are refused with the reason and a valid example', () => {
  for (const [bad, why] of BAD_NAMES) {
    assert.match(appNameProblem(bad) ?? '', why, JSON.stringify(bad))
    assert.throws(
      () => checkAppName(bad, '--name'),
      (err: Error) => {
        assert.ok(isUserError(err))
        assert.match(err.message, /is not a valid app name/)
        const example = /Try e\.g\. --name (\S+)$/.exec(err.message)?.[1]
        assert.ok(example, err.message)
        assert.equal(appNameProblem(example), undefined, `example ${example} must itself be valid`)
        return true
      },
    )
  }
})

test('suggestAppName always gives a valid name', () => {
  assert.equal(suggestAppName('My Clock!'), 'my-clock')
  assert.equal(suggestAppName('Café Olé'), 'cafe-ole')
  assert.equal(suggestAppName('123'), 'my-app')
  assert.equal(suggestAppName('nul'), 'nul-app')
  fc.assert(
    fc.property(fc.string({ maxLength: 200 }), (s) => appNameProblem(suggestAppName(s)) === undefined),
    { numRuns: 2000 },
  )
})

test('defaults: display name from the name, name from the folder', () => {
  assert.equal(defaultDisplayName('my-clock_app'), 'My Clock App')
  assert.equal(defaultDisplayName('x'), 'X')
  assert.equal(defaultNameFor('/tmp/apps/clock'), 'clock')
  assert.equal(defaultNameFor('/tmp/apps/My Clock'), 'my-clock')
})

test('display name and author: one line of at most 80 characters', () => {
  assert.equal(textProblem('Ada "the first" Lovelace \\ 🚀'), undefined)
  assert.match(textProblem('') ?? '', /empty/)
  assert.match(textProblem('   ') ?? '', /empty/)
  assert.match(textProblem('a\nb') ?? '', /line break/)
  assert.match(textProblem('a\u0007b') ?? '', /control character/)
  assert.match(textProblem('x'.repeat(81)) ?? '', /80 characters/)
})
