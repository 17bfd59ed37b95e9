/**
 * From two recorded `/metrics` scrapes to promtool `input_series`: the Prometheus 0.0.4 text
 * is parsed into samples, each series is paired across the two scrapes, and the pair is
 * written in promtool's expanding notation so that what the two scrapes show goes on for as
 * long as a rule's `for:` needs: a counter keeps growing by its recorded increase per
 * interval, a gauge keeps its second value.
 *
 * @module
 */

export type SeriesKind = 'counter' | 'gauge'

export interface ScrapeSample {
  name: string
  labels: Record<string, string>
  value: number
}

export interface Scrape {
  /** `# TYPE` of each metric family, by family name. */
  types: Map<string, string>
  samples: ScrapeSample[]
}

/** One series in both scrapes; `undefined` where a scrape lacks it (a counter not yet counted). */
export interface SeriesPair {
  name: string
  labels: Record<string, string>
  kind: SeriesKind
  first: number | undefined
  second: number | undefined
}

export interface InputSeries {
  series: string
  values: string
}

const SAMPLE_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/

/** Parses Prometheus text format 0.0.4; a line it cannot read is an error naming the line. */
export function parseScrape(text: string): Scrape {
  const types = new Map<string, string>()
  const samples: ScrapeSample[] = []
  for (const [index, line] of text.split('\n').entries()) {
    if (line.trim() === '') continue
    if (line.startsWith('#')) {
      const type = /^# TYPE (\S+) (\S+)$/.exec(line)
      if (type !== null) types.set(type[1]!, type[2]!)
      continue
    }
    const sample = parseSampleLine(line)
    if (sample === undefined) throw new Error(`line ${index + 1} is not a sample: ${JSON.stringify(line)}`)
    samples.push(sample)
  }
  return { types, samples }
}

function parseSampleLine(line: string): ScrapeSample | undefined {
  const name = SAMPLE_NAME.exec(line)?.[0]
  if (name === undefined) return undefined
  let rest = line.slice(name.length)
  const labels: Record<string, string> = {}
  if (rest.startsWith('{')) {
    rest = rest.slice(1)
    while (!rest.startsWith('}')) {
      const labelName = LABEL_NAME.exec(rest)?.[0]
      if (labelName === undefined || rest[labelName.length] !== '=' || rest[labelName.length + 1] !== '"') return undefined
      rest = rest.slice(labelName.length + 2)
      let value = ''
      for (;;) {
        const char = rest[0]
        if (char === undefined) return undefined
        rest = rest.slice(1)
        if (char === '"') break
        if (char !== '\\') {
          value += char
          continue
        }
        const escaped = rest[0]
        rest = rest.slice(1)
        if (escaped === 'n') value += '\n'
        else if (escaped === '\\' || escaped === '"') value += escaped
        else return undefined
      }
      labels[labelName] = value
      if (rest.startsWith(',')) rest = rest.slice(1)
    }
    rest = rest.slice(1)
  }
  // The value, and an optional timestamp that promtool's input does not need.
  const fields = rest.trim().split(/\s+/)
  if (fields.length < 1 || fields.length > 2) return undefined
  const value = Number(fields[0])
  if (fields[0] === '' || Number.isNaN(value)) return undefined
  return { name, labels, value }
}

/** A histogram's `_bucket`, `_sum` and `_count` only grow, as a counter does. */
function kindOf(name: string, types: Map<string, string>): SeriesKind {
  if (types.get(name) === 'counter') return 'counter'
  const family = name.replace(/_(bucket|sum|count)$/, '')
  return family !== name && types.get(family) === 'histogram' ? 'counter' : 'gauge'
}

function seriesKey(name: string, labels: Record<string, string>): string {
  return `${name}{${Object.keys(labels).sort().map((key) => `${key}=${JSON.stringify(labels[key])}`).join(',')}}`
}

/** Every series of either scrape, paired, in the order first seen; `extraLabels` (job, instance) added. */
export function pairScrapes(first: Scrape, second: Scrape, extraLabels: Record<string, string>): SeriesPair[] {
  const pairs = new Map<string, SeriesPair>()
  for (const [scrape, slot] of [[first, 'first'], [second, 'second']] as const) {
    for (const sample of scrape.samples) {
      const labels = { ...sample.labels, ...extraLabels }
      const key = seriesKey(sample.name, labels)
      let pair = pairs.get(key)
      if (pair === undefined) {
        pair = { name: sample.name, labels, kind: kindOf(sample.name, scrape.types), first: undefined, second: undefined }
        pairs.set(key, pair)
      }
      pair[slot] = sample.value
    }
  }
  return [...pairs.values()]
}

/** A label value in PromQL's double-quoted form. */
function quoteLabelValue(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`
}

/** A number as promtool's series notation reads it (no exponent form). */
function formatNumber(value: number): string {
  const text = String(value)
  return /e/i.test(text) ? value.toFixed(20).replace(/\.?0+$/, '') : text
}

/**
 * One promtool input series: the first scrape at t0, the second at t0 + interval, then
 * `extraIntervals` more samples continuing the pair (a counter by its increase, a gauge at
 * its second value). A counter absent from the first scrape started from 0 within the
 * interval; a series absent from the second went stale.
 */
export function toInputSeries(pair: SeriesPair, extraIntervals: number): InputSeries {
  const labels = Object.entries(pair.labels).map(([name, value]) => `${name}=${quoteLabelValue(value)}`).join(',')
  const series = `${pair.name}{${labels}}`
  const head = pair.first === undefined ? '_' : formatNumber(pair.first)
  if (pair.second === undefined) return { series, values: `${head} stale` }
  if (pair.kind === 'gauge') return { series, values: `${head} ${formatNumber(pair.second)}x${extraIntervals}` }
  const start = pair.first ?? 0
  const increase = pair.second - start
  if (increase < 0) throw new Error(`${series} decreased between the scrapes (${start} → ${pair.second}): a counter reset cannot be extended`)
  const values = pair.first === undefined ? `_ ${formatNumber(pair.second)}+${formatNumber(increase)}x${extraIntervals}` : `${head}+${formatNumber(increase)}x${extraIntervals + 1}`
  return { series, values }
}
