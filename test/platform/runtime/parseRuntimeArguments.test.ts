/** The command line the devnet launcher and the tests rely on (`node dist/nova-runtime.mjs …`). */
import { describe, expect, it } from 'vitest'
import { bytesToHex } from '../../../core/encoding'
import { parseRuntimeArguments, RuntimeArgumentsError } from '../../../platform/cli/parseRuntimeArguments'

describe('parseRuntimeArguments', () => {
  it('behavior: --devnet and --app-id, with port 18000 and host 127.0.0.1 by default', () => {
    expect(parseRuntimeArguments(['--devnet', 'd.json', '--app-id', '7'])).toEqual({ command: 'run', devnetPath: 'd.json', appId: 7, port: 18000, host: '127.0.0.1', bindingVersion: 1 })
    expect(parseRuntimeArguments(['--port', '19000', '--app-id', '0', '--devnet', 'd.json', '--host', '127.0.0.2'])).toEqual({ command: 'run', devnetPath: 'd.json', appId: 0, port: 19000, host: '127.0.0.2', bindingVersion: 1 })
  })

  it('behavior: --binding v2 turns request/response binding on; anything else is refused', () => {
    expect(parseRuntimeArguments(['--devnet', 'd.json', '--app-id', '7', '--binding', 'v2'])).toMatchObject({ bindingVersion: 2 })
    expect(parseRuntimeArguments(['--devnet', 'd.json', '--app-id', '7', '--binding', 'v1'])).toMatchObject({ bindingVersion: 1 })
    expect(() => parseRuntimeArguments(['--devnet', 'd.json', '--app-id', '7', '--binding', '3'])).toThrow('--binding expects v1 or v2')
  })

  it('behavior: --pcrs gives PCR0, PCR1 and PCR2 in that order, 0x optional; absent, none', () => {
    const parsed = parseRuntimeArguments(['--devnet', 'd.json', '--app-id', '7', '--pcrs', `${'0a'.repeat(48)},0x${'1b'.repeat(48)},${'2C'.repeat(48)}`])
    expect(parsed.command === 'run' ? [...parsed.pcrs!].map(([index, value]) => [index, bytesToHex(value)]) : undefined).toEqual([[0, '0a'.repeat(48)], [1, '1b'.repeat(48)], [2, '2c'.repeat(48)]])
    expect(parseRuntimeArguments(['--devnet', 'd.json', '--app-id', '7'])).toMatchObject({ pcrs: undefined })
  })

  it('behavior: --help wins over everything else', () => {
    expect(parseRuntimeArguments(['--devnet', 'x', '--help'])).toEqual({ command: 'help' })
  })

  it.each([
    [['--app-id', '1'], '--devnet is required'],
    [['--devnet', 'd.json'], '--app-id is required'],
    [['--devnet', 'd.json', '--app-id', 'one'], '--app-id expects an integer in 0..9007199254740991'],
    [['--devnet', 'd.json', '--app-id', '1', '--port', '65535'], '--port expects an integer in 1..65534'],
    [['--devnet', '--app-id', '1'], '--devnet needs a value'],
    [['--devnet', 'd.json', '--app-id', '1', '--verbose'], 'unknown argument --verbose'],
    [['--devnet', 'd.json', '--app-id', '1', '--pcrs', `${'aa'.repeat(48)},${'bb'.repeat(48)}`], '--pcrs expects three comma-separated values (PCR0,PCR1,PCR2), got 2'],
    [['--devnet', 'd.json', '--app-id', '1', '--pcrs', `${'aa'.repeat(48)},${'bb'.repeat(48)},${'cc'.repeat(48)},${'dd'.repeat(48)}`], '--pcrs expects three comma-separated values (PCR0,PCR1,PCR2), got 4'],
    [['--devnet', 'd.json', '--app-id', '1', '--pcrs', `${'aa'.repeat(48)},${'bb'.repeat(47)},${'cc'.repeat(48)}`], '--pcrs: PCR1 must be 48 bytes of hex'],
    [['--devnet', 'd.json', '--app-id', '1', '--pcrs', `${'aa'.repeat(48)},${'bb'.repeat(48)},${'cg'.repeat(48)}`], '--pcrs: PCR2 must be 48 bytes of hex'],
    [['--devnet', 'd.json', '--app-id', '1', '--pcrs', `,${'bb'.repeat(48)},${'cc'.repeat(48)}`], '--pcrs: PCR0 must be 48 bytes of hex'],
    [['--devnet', 'd.json', '--app-id', '1', '--pcrs', ` ${'aa'.repeat(48)},${'bb'.repeat(48)},${'cc'.repeat(48)}`], '--pcrs: PCR0 must be 48 bytes of hex'],
  ])('error: %j → %s', (argv, message) => {
    expect(() => parseRuntimeArguments(argv)).toThrow(new RuntimeArgumentsError(message))
  })
})
