/** The SDK's errors (issue 17): viem's shape (`shortMessage`, `details`, `cause`, `walk()`) and a PROTOCOL code on each. */
import { describe, expect, test } from 'vitest'
import {
  AuditVerificationError,
  KmsClientError,
  KmsNodeExchangeError,
  KmsNodesUnavailableError,
  KmsRegistryUnavailableError,
  KmsRequestRejectedError,
  NovaKmsError,
} from '../../core/client'
import { KmsError } from '../../core/errors'

describe('NovaKmsError', () => {
  test('behavior: every SDK error is one, with its code, a short message equal to message, and details', () => {
    const refused = new KmsClientError(403, 'unauthorized', 'Instance not found')
    expect(refused).toBeInstanceOf(NovaKmsError)
    expect([refused.code, refused.shortMessage, refused.message, refused.status]).toEqual(['unauthorized', 'Instance not found', 'Instance not found', 403])
    expect(new KmsRequestRejectedError(400, 'bad_request', 'Invalid path').code).toBe('bad_request')
    expect(new KmsRegistryUnavailableError().code).toBe('registry_unavailable')
    expect(new KmsNodeExchangeError('transport', 'timed out').code).toBe('node_transport')
    const down = new KmsNodesUnavailableError([{ url: 'https://a', reason: 'timed out' }, { url: 'https://b', reason: 'HTTP 503' }], 3)
    expect([down.code, down.details]).toEqual(['nodes_unavailable', 'https://a: timed out; https://b: HTTP 503'])
    const audit = new AuditVerificationError('fork', 'the chain forked at seq 4')
    expect([audit.code, audit.details, audit instanceof NovaKmsError]).toEqual(['fork', 'the chain forked at seq 4', true])
  })

  test('behavior: walk() finds an error down the cause chain, or the deepest one without a predicate', () => {
    const rpc = new KmsError('registry_unavailable', 'Registry unavailable')
    const outer = new KmsRegistryUnavailableError({ cause: rpc })
    expect(outer.walk()).toBe(rpc)
    expect(outer.walk((error) => error instanceof KmsError)).toBe(rpc)
    expect(outer.walk((error) => error instanceof KmsRegistryUnavailableError)).toBe(outer)
    expect(outer.walk((error) => error instanceof TypeError)).toBeNull()
    expect(new KmsRegistryUnavailableError().walk()).toBeInstanceOf(KmsRegistryUnavailableError)
  })

  test('error: a cyclic cause chain ends the walk instead of looping', () => {
    const first = new NovaKmsError('a', { code: 'x' })
    const second = new NovaKmsError('b', { code: 'y', cause: first })
    Object.defineProperty(first, 'cause', { value: second })
    expect(first.walk((error) => error instanceof TypeError)).toBeNull()
    expect([first, second]).toContain(first.walk())
  })
})
