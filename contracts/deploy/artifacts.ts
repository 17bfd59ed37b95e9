/**
 * Reads ABIs and creation bytecode from forge's artifacts. They must exist: run
 * `cd contracts && npx forge build` first (the test helpers do it for you).
 */
import { readFileSync } from 'node:fs'
import type { Abi, Hex } from 'viem'

export type ContractName = 'KMSRegistry' | 'NovaAppRegistry'

export interface ContractArtifact {
  abi: Abi
  bytecode: Hex
}

/** `contracts/out`, next to this folder. */
export const ARTIFACTS_DIRECTORY = new URL('../out/', import.meta.url)

export function loadArtifact(name: ContractName): ContractArtifact {
  const file = new URL(`${name}.sol/${name}.json`, ARTIFACTS_DIRECTORY)
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (cause) {
    throw new Error(`No forge artifact for ${name}: run \`cd contracts && npx forge build\` first`, { cause })
  }
  const artifact = JSON.parse(text) as { abi: Abi; bytecode: { object: Hex } }
  return { abi: artifact.abi, bytecode: artifact.bytecode.object }
}
