/**
 * Where the key file's passphrase comes from, in this order: `--passphrase-file <file>` (its
 * first line), the environment variable NOVA_KMS_CUSTODIAN_PASSPHRASE, or a prompt on the
 * terminal (twice for keygen, so that a typo does not lock the key away). Never a flag
 * value: command lines are visible to every user of the machine (`ps`).
 */
import { readFile } from 'node:fs/promises'
import { createInterface } from 'node:readline'
import { Writable } from 'node:stream'

export const PASSPHRASE_ENV = 'NOVA_KMS_CUSTODIAN_PASSPHRASE'
const MAX_PASSPHRASE_BYTES = 1024

export class PassphraseError extends Error {}

async function prompt(question: string): Promise<string> {
  // Echo off: the muted stream swallows what readline would print back.
  let muted = false
  const output = new Writable({
    write(chunk, _encoding, done) {
      if (!muted) process.stderr.write(chunk)
      done()
    },
  })
  const reader = createInterface({ input: process.stdin, output, terminal: true })
  try {
    return await new Promise<string>((resolve) => {
      reader.question(question, resolve)
      muted = true
    })
  } finally {
    reader.close()
    process.stderr.write('\n')
  }
}

/** @param confirm ask twice on a terminal (keygen). */
export async function readPassphrase(options: { file: string | undefined; confirm: boolean }): Promise<string> {
  let passphrase: string
  if (options.file !== undefined) {
    const text = await readFile(options.file, 'utf8').catch((error: unknown) => {
      throw new PassphraseError(`cannot read --passphrase-file ${options.file}: ${error instanceof Error && 'code' in error ? String(error.code) : 'error'}`)
    })
    passphrase = text.split(/\r?\n/)[0] ?? ''
  } else if (process.env[PASSPHRASE_ENV] !== undefined) {
    passphrase = process.env[PASSPHRASE_ENV]
  } else if (process.stdin.isTTY === true) {
    passphrase = await prompt('Key file passphrase: ')
    if (options.confirm && (await prompt('Again: ')) !== passphrase) throw new PassphraseError('the passphrases differ')
  } else {
    throw new PassphraseError(`no passphrase: give --passphrase-file <file>, set ${PASSPHRASE_ENV}, or run on a terminal`)
  }
  if (passphrase.length === 0) throw new PassphraseError('the passphrase is empty')
  if (new TextEncoder().encode(passphrase).length > MAX_PASSPHRASE_BYTES) throw new PassphraseError(`the passphrase is longer than ${MAX_PASSPHRASE_BYTES} bytes`)
  return passphrase
}
