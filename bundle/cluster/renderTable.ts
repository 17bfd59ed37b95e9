/** The console's table: one row per node, then what needs attention, then one verdict line. */
import type { ClusterReport, NodeReport } from './assessCluster'

const COLUMNS = ['NODE', 'WALLET', 'VERSION', 'READY', 'SECRET', 'PEERS', 'SYNC', 'OPERATOR', 'CA'] as const
const REASON_WIDTH = 36

function abbreviate(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, width - 1)}…`
}

function cells(node: NodeReport): string[] {
  const ready = node.ready.available === null ? '?' : node.ready.available ? 'yes' : `no: ${abbreviate(node.ready.reason || 'no reason', REASON_WIDTH)}`
  const secret = node.secrets.length === 0 ? '—' : node.secrets.map((row) => `e${row.epoch} ${row.check === 'match' ? 'ok' : row.check === 'mismatch' ? 'MISMATCH' : row.check}`).join(', ')
  const sync = node.sync_pushes === null ? '?' : node.sync_pushes.success === null ? 'none yet' : `${Math.floor(node.sync_pushes.success * 100)}% of ${node.sync_pushes.ok + node.sync_pushes.failed}`
  return [
    node.url,
    `${node.wallet.slice(0, 6)}…${node.wallet.slice(-4)}`,
    `v${node.version.id} ${node.version.status}${node.version.build === null ? '' : ` (${abbreviate(node.version.build, 16)})`}`,
    ready,
    secret,
    node.peers.seen === null ? `?/${node.peers.listed}` : `${node.peers.seen}/${node.peers.listed}`,
    sync,
    node.operator ? 'yes' : 'NO',
    node.ca === null ? '—' : `${node.ca.fingerprint.slice(0, 16)}…`,
  ]
}

export function renderTable(report: ClusterReport): string {
  const rows = [[...COLUMNS], ...report.nodes.map(cells)]
  const widths = COLUMNS.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)))
  const line = (row: string[]): string => row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()
  const epochs = report.live_epochs.map(({ epoch, hash }) => `e${epoch} ${hash.slice(0, 10)}…`).join(', ') || 'none'
  const out = [
    `KMSRegistry ${report.kms_registry} · KMS app ${report.kms_app_id} · current epoch ${report.current_epoch} · committed ${epochs}`,
    '',
    ...rows.map(line),
  ]
  const problems = [...report.attention.map((text) => `  cluster: ${text}`), ...report.nodes.flatMap((node) => node.attention.map((text) => `  ${node.url}: ${text}`))]
  if (report.operators_without_instance.length > 0) out.push('', `operators without an ACTIVE instance: ${report.operators_without_instance.join(', ')}`)
  const flagged = report.nodes.filter((node) => node.attention.length > 0).length
  if (problems.length > 0) out.push('', 'needs attention:', ...problems)
  out.push(
    '',
    report.healthy
      ? `all ${report.nodes.length} node(s) healthy`
      : `${flagged} of ${report.nodes.length} node(s) need attention${report.attention.length > 0 ? ', and the cluster as a whole' : ''}`,
  )
  return `${out.join('\n')}\n`
}
