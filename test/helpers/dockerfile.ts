/**
 * A Dockerfile read as the builder reads it, for the tests that check the production image
 * (test/deploy/dockerfile.test.ts reads it; test/image builds it).
 *
 * @module
 */

export interface Instruction {
  keyword: string
  args: string
}

/** Dockerfile instructions, continuation lines joined; comment lines (also inside a continuation) dropped, as the builder drops them. */
export function parseDockerfile(text: string): Instruction[] {
  const instructions: Instruction[] = []
  let pending = ''
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (line.startsWith('#') || (line === '' && pending === '')) continue
    pending += (pending === '' ? '' : ' ') + line.replace(/\\$/, '').trim()
    if (line.endsWith('\\')) continue
    const match = /^(\S+)\s*(.*)$/.exec(pending)!
    instructions.push({ keyword: match[1]!.toUpperCase(), args: match[2]!.trim() })
    pending = ''
  }
  return instructions
}

/** `KEY=value` pairs of ENV/ARG arguments (the legacy `ENV KEY value` form is not used here). */
export const assignments = (args: string): Record<string, string> =>
  Object.fromEntries([...args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S*)/g)].map((match) => [match[1]!, match[2]!.replace(/^"|"$/g, '')]))

/** The defaults of the ARGs declared before the first FROM (the ones `--build-arg` overrides for every stage). */
export function globalArgDefaults(text: string): Record<string, string> {
  const instructions = parseDockerfile(text)
  const firstFrom = instructions.findIndex(({ keyword }) => keyword === 'FROM')
  return Object.assign({}, ...instructions.slice(0, firstFrom).filter(({ keyword }) => keyword === 'ARG').map(({ args }) => assignments(args))) as Record<string, string>
}
