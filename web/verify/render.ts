/**
 * Shows a {@link Report} in index.html's result section. Every value a node, a document or
 * the RPC supplied goes into the page as text (`textContent`), never as markup. Elements the
 * browser test reads carry `data-testid`; each registry row also carries `data-result`.
 */
import type { AttestationErrorCode, CertificateSummary, DescribedBytes } from '../../core/attestation'
import type { Check, Report } from './report'

/** How the trust root is described next to the verdict. */
export interface TrustDescription {
  kind: 'aws' | 'dev'
  text: string
}

const SHOWN_PCRS: readonly number[] = [0, 1, 2, 8]

const VERDICT_TEXT: Readonly<Record<Report['verdict'], string>> = {
  VALID: 'VALID: a live, registered KMS enclave running the enrolled code',
  REJECTED: 'REJECTED',
  INCOMPLETE: 'INCOMPLETE: the document verifies, but the registry was not compared',
}

function element<K extends keyof HTMLElementTagNameMap>(tag: K, text?: string, attributes: Record<string, string> = {}): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag)
  if (text !== undefined) node.textContent = text
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value)
  return node
}

function required<T extends Element>(selector: string): T {
  const found = document.querySelector<T>(selector)
  if (found === null) throw new Error(`index.html lacks ${selector}`)
  return found
}

/** A two-column row: a header cell and a value cell. */
function factRow(body: HTMLElement, label: string, value: string, testid?: string): void {
  const row = element('tr', undefined, testid === undefined ? {} : { 'data-testid': testid })
  row.append(element('th', label, { scope: 'row' }), element('td', value, { class: 'value' }))
  body.append(row)
}

function bytesText(described: DescribedBytes | null): string {
  if (described === null) return '(none)'
  return described.utf8 !== undefined ? `${described.size} bytes: ${described.utf8}` : `${described.size} bytes: ${described.hex}`
}

function certificateText(summary: CertificateSummary | { error: AttestationErrorCode }): string {
  if ('error' in summary) return `unparseable (${summary.error})`
  return `${summary.subject}; issued by ${summary.issuer}; valid ${summary.notBefore} to ${summary.notAfter}`
}

function resultText(check: Check): string {
  if (check.note === true) return check.result === 'match' ? 'same' : 'differs (not judged)'
  return check.result === 'match' ? '✓ match' : '✗ mismatch'
}

function showVerdict(verdict: string, heading: string, trust: TrustDescription | undefined, reasons: readonly string[]): void {
  const box = required<HTMLElement>('[data-testid=verdict-box]')
  box.hidden = false
  box.dataset['verdict'] = verdict
  required('[data-testid=verdict]').textContent = heading
  const trustLine = required<HTMLElement>('[data-testid=trust-root]')
  trustLine.hidden = trust === undefined
  trustLine.textContent = trust?.text ?? ''
  trustLine.dataset['trust'] = trust?.kind ?? ''
  const list = required('[data-testid=verdict-reasons]')
  list.replaceChildren(...reasons.map((reason) => element('li', reason)))
}

/** The "verifying…" state, while the node and the chain are asked. */
export function renderPending(what: string): void {
  required<HTMLElement>('#details').hidden = true
  required('#result').setAttribute('aria-busy', 'true')
  showVerdict('PENDING', `Verifying ${what}…`, undefined, [])
}

/** No document to judge: the node did not answer, or the text is not a document. */
export function renderFailure(message: string): void {
  required<HTMLElement>('#details').hidden = true
  required('#result').setAttribute('aria-busy', 'false')
  showVerdict('ERROR', 'ERROR: no document to verify', undefined, [message])
  required<HTMLElement>('[data-testid=verdict-box]').focus()
}

export function renderReport(report: Report, trust: TrustDescription): void {
  const reasons = [...report.reasons]
  if (!report.nonceChecked) reasons.push('The nonce was not checked (a pasted document): it may be an old document replayed. Only a URL check with a fresh nonce shows that the enclave is alive now.')
  showVerdict(report.verdict, VERDICT_TEXT[report.verdict], trust, reasons)

  const fields = required('[data-testid=document-fields]')
  const caption = fields.querySelector('caption')!
  const body = fields.querySelector('tbody')!
  body.replaceChildren()
  const verifier = report.attestation.valid ? 'verifies' : `is rejected: ${report.attestation.code} (${report.attestation.description})`
  caption.textContent = `The document ${verifier}, checked ${new Date(report.verifiedAt).toISOString()}. Fields are shown as decoded${report.attestation.valid ? '' : ', without trust'}.`
  factRow(body, 'Verifier', report.attestation.valid ? 'valid' : `rejected: ${report.attestation.code}`, 'attestation-result')
  const f = report.fields
  if (f === undefined) {
    factRow(body, 'Fields', 'the document cannot be decoded')
  } else {
    factRow(body, 'Size', `${f.size} bytes${report.source.kind === 'pasted' ? ` (pasted as ${report.source.format})` : ''}`)
    factRow(body, 'module_id', f.moduleId, 'field-module_id')
    factRow(body, 'timestamp', `${new Date(f.timestamp).toISOString()} (${f.timestamp})`, 'field-timestamp')
    factRow(body, 'digest', f.digest, 'field-digest')
    // PCR0-2 (image, kernel and boot, application) and PCR8 (the signing certificate) always;
    // the others only when they are not zero.
    for (const index of SHOWN_PCRS) factRow(body, `PCR${index}`, f.pcrs.find((pcr) => pcr.index === index)?.hex ?? '(not in the document)', `field-pcr${index}`)
    const others = f.pcrs.filter((pcr) => !SHOWN_PCRS.includes(pcr.index))
    for (const { index, hex } of others.filter((pcr) => !/^0*$/.test(pcr.hex))) factRow(body, `PCR${index}`, hex, `field-pcr${index}`)
    const zero = others.filter((pcr) => /^0*$/.test(pcr.hex)).map((pcr) => pcr.index)
    if (zero.length > 0) factRow(body, 'Other PCRs', `${zero.map((index) => `PCR${index}`).join(', ')}: all zero`, 'field-pcr-zero')
    factRow(body, 'keccak256(PCR0‖PCR1‖PCR2)', f.measurement ?? '(PCR0-2 missing)', 'field-measurement')
    factRow(body, 'public_key', bytesText(f.publicKey), 'field-public_key')
    factRow(body, 'user_data', bytesText(f.userData), 'field-user_data')
    factRow(body, 'user_data.eth_addr', f.ethAddr ?? '(none)', 'field-eth_addr')
    const nonce = report.source.kind === 'url' ? `${bytesText(f.nonce)}; the page sent ${report.source.nonceBase64} (base64)` : `${bytesText(f.nonce)}; not checked`
    factRow(body, 'nonce', nonce, 'field-nonce')
    factRow(body, 'certificate', certificateText(f.certificate), 'field-certificate')
    factRow(body, 'cabundle', `${f.cabundle.length} certificates, root first`)
    for (const [index, summary] of f.cabundle.entries()) factRow(body, `cabundle[${index}]`, certificateText(summary))
  }

  const state = required('[data-testid=registry-state]')
  const checks = required('[data-testid=registry-checks]')
  const rows = checks.querySelector('tbody')!
  rows.replaceChildren()
  const registry = report.registry
  checks.toggleAttribute('hidden', registry.state !== 'read')
  if (registry.state === 'read') {
    const { facts } = registry
    state.textContent = `Read from KMSRegistry ${facts.kmsRegistry} (KMS app ${facts.kmsAppId}) and NovaAppRegistry ${facts.novaAppRegistry}, for the wallet ${facts.wallet ?? '(none)'}.`
    for (const check of registry.checks) {
      const row = element('tr', undefined, { 'data-testid': `check-${check.id}`, 'data-result': check.result })
      const result = element('td', resultText(check), { class: 'result', 'data-result': check.result, 'data-note': String(check.note === true) })
      row.append(element('th', check.label, { scope: 'row' }), element('td', check.registry, { class: 'value' }), element('td', check.document, { class: 'value' }), result)
      rows.append(row)
    }
  } else {
    state.textContent = registry.state === 'not configured' ? 'Not read: set the JSON-RPC URL and the KMSRegistry address under "Chain and trust settings".' : `Not read: ${registry.reason}.`
  }

  const node = required('[data-testid=node-facts]').querySelector('tbody')!
  node.replaceChildren()
  if (report.source.kind === 'pasted') {
    factRow(node, 'Node', 'none was asked (a pasted document)')
  } else {
    factRow(node, 'URL', report.source.url, 'node-url-checked')
    const ca = report.ca
    if (ca?.state === 'read') {
      factRow(node, 'CA SHA-256 (GET /kms/ca)', ca.answer.fingerprint, 'ca-fingerprint')
      if (ca.answer.epoch !== undefined) factRow(node, 'CA epoch', String(ca.answer.epoch))
      if (ca.answer.previous !== undefined) factRow(node, 'Previous epoch CA SHA-256', `${ca.answer.previous.fingerprint} (epoch ${ca.answer.previous.epoch ?? '?'}, still trusted during the rotation)`)
    } else {
      factRow(node, 'CA SHA-256 (GET /kms/ca)', `not read: ${ca?.reason ?? 'unknown'}`, 'ca-fingerprint')
    }
    const status = report.status
    factRow(node, 'Status (GET /status, as the node says)', status === undefined ? 'not read' : `${status.serviceAvailable ? 'serving' : `not serving: ${status.unavailableReason}`}; mode ${status.mode}; version ${status.version}`, 'node-status')
  }
  required<HTMLElement>('#details').hidden = false
  required('#result').setAttribute('aria-busy', 'false')
  required<HTMLElement>('[data-testid=verdict-box]').focus()
}
