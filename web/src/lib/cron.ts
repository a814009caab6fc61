// Cron expressions as oc-scheduler reads them (robfig/cron with an optional
// seconds field first, in UTC): parse, next firings, and a reading in plain
// words.

import cronstrue from 'cronstrue'

export interface Schedule {
  second: Set<number>
  minute: Set<number>
  hour: Set<number>
  dom: Set<number>
  month: Set<number>
  dow: Set<number>
  domStar: boolean
  dowStar: boolean
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec']
const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat']

interface Bounds {
  name: string
  min: number
  max: number
  names?: string[]
  nameBase?: number
}

const SECOND: Bounds = { name: 'seconds', min: 0, max: 59 }
const MINUTE: Bounds = { name: 'minutes', min: 0, max: 59 }
const HOUR: Bounds = { name: 'hours', min: 0, max: 23 }
const DOM: Bounds = { name: 'day of month', min: 1, max: 31 }
const MONTH: Bounds = { name: 'month', min: 1, max: 12, names: MONTHS, nameBase: 1 }
const DOW: Bounds = { name: 'day of week', min: 0, max: 6, names: DAYS, nameBase: 0 }

const DESCRIPTORS: Record<string, string> = {
  '@yearly': '0 0 0 1 1 *',
  '@annually': '0 0 0 1 1 *',
  '@monthly': '0 0 0 1 * *',
  '@weekly': '0 0 0 * * 0',
  '@daily': '0 0 0 * * *',
  '@midnight': '0 0 0 * * *',
  '@hourly': '0 0 * * * *',
}

export class CronError extends Error {}

function value(s: string, b: Bounds): number {
  const i = b.names?.indexOf(s.toLowerCase()) ?? -1
  if (i >= 0) return i + (b.nameBase ?? 0)
  if (!/^\d+$/.test(s)) throw new CronError(`${b.name}: "${s}" is not a number`)
  return Number(s)
}

function field(expr: string, b: Bounds): { set: Set<number>; star: boolean } {
  const set = new Set<number>()
  let star = false
  for (const part of expr.split(',')) {
    const [range, stepText, extra] = part.split('/')
    if (extra !== undefined) throw new CronError(`${b.name}: too many slashes in "${part}"`)
    let lo: number
    let hi: number
    if (range === '*' || range === '?') {
      lo = b.min
      hi = b.max
      if (stepText === undefined) star = true
    } else {
      const [a, z, more] = range.split('-')
      if (more !== undefined) throw new CronError(`${b.name}: too many hyphens in "${range}"`)
      lo = value(a, b)
      hi = z === undefined ? (stepText === undefined ? lo : b.max) : value(z, b)
    }
    const step = stepText === undefined ? 1 : Number(stepText)
    if (!Number.isInteger(step) || step <= 0) throw new CronError(`${b.name}: step "${stepText}" must be a positive number`)
    if (lo < b.min || hi > b.max) throw new CronError(`${b.name}: ${lo}-${hi} is beyond ${b.min}-${b.max}`)
    if (lo > hi) throw new CronError(`${b.name}: ${lo} is after ${hi}`)
    for (let v = lo; v <= hi; v += step) set.add(v)
  }
  return { set, star }
}

/** parse reads 5 fields (minute hour day month weekday), 6 with seconds first, or a descriptor such as @daily. */
export function parse(expr: string): Schedule {
  let text = expr.trim()
  if (text.startsWith('@')) {
    const d = DESCRIPTORS[text.toLowerCase()]
    if (!d) throw new CronError(`unknown descriptor ${text} (the preview knows @yearly, @monthly, @weekly, @daily, @hourly)`)
    text = d
  }
  const parts = text.split(/\s+/).filter(Boolean)
  if (parts.length === 5) parts.unshift('0')
  if (parts.length !== 6) throw new CronError(`expected 5 fields (minute hour day month weekday) or 6 with seconds first, got ${parts.length}`)
  const dom = field(parts[3], DOM)
  const dow = field(parts[5], DOW)
  return {
    second: field(parts[0], SECOND).set,
    minute: field(parts[1], MINUTE).set,
    hour: field(parts[2], HOUR).set,
    dom: dom.set,
    month: field(parts[4], MONTH).set,
    dow: dow.set,
    domStar: dom.star,
    dowStar: dow.star,
  }
}

function dayMatches(s: Schedule, d: Date): boolean {
  const domOK = s.dom.has(d.getUTCDate())
  const dowOK = s.dow.has(d.getUTCDay())
  // As robfig/cron and Vixie cron: both restricted means either one.
  if (s.domStar || s.dowStar) return domOK && dowOK
  return domOK || dowOK
}

/** next is the first firing strictly after `after`, or undefined within five years. */
export function next(s: Schedule, after: Date): Date | undefined {
  let t = new Date(Math.floor(after.getTime() / 1000) * 1000 + 1000)
  const yearLimit = t.getUTCFullYear() + 5
  let added = false
  const utc = (y: number, mo: number, d = 1, h = 0, mi = 0, se = 0) => new Date(Date.UTC(y, mo, d, h, mi, se))
  wrap: for (;;) {
    if (t.getUTCFullYear() > yearLimit) return undefined
    while (!s.month.has(t.getUTCMonth() + 1)) {
      if (!added) {
        added = true
        t = utc(t.getUTCFullYear(), t.getUTCMonth())
      }
      t = utc(t.getUTCFullYear(), t.getUTCMonth() + 1)
      if (t.getUTCMonth() === 0) continue wrap
    }
    while (!dayMatches(s, t)) {
      if (!added) {
        added = true
        t = utc(t.getUTCFullYear(), t.getUTCMonth(), t.getUTCDate())
      }
      t = utc(t.getUTCFullYear(), t.getUTCMonth(), t.getUTCDate() + 1)
      if (t.getUTCDate() === 1) continue wrap
    }
    while (!s.hour.has(t.getUTCHours())) {
      if (!added) {
        added = true
        t = utc(t.getUTCFullYear(), t.getUTCMonth(), t.getUTCDate(), t.getUTCHours())
      }
      t = new Date(t.getTime() + 3_600_000)
      if (t.getUTCHours() === 0) continue wrap
    }
    while (!s.minute.has(t.getUTCMinutes())) {
      if (!added) {
        added = true
        t = new Date(Math.floor(t.getTime() / 60_000) * 60_000)
      }
      t = new Date(t.getTime() + 60_000)
      if (t.getUTCMinutes() === 0) continue wrap
    }
    while (!s.second.has(t.getUTCSeconds())) {
      added = true
      t = new Date(t.getTime() + 1000)
      if (t.getUTCSeconds() === 0) continue wrap
    }
    return t
  }
}

/**
 * firings lists the firings from `start` (that second included, as the
 * scheduler counts them) until `end`, at most `limit`.
 */
export function firings(s: Schedule, start: Date, end: Date | undefined, limit: number): Date[] {
  const out: Date[] = []
  let at: Date | undefined = new Date(Math.floor(start.getTime() / 1000) * 1000 - 1000)
  while (out.length < limit) {
    at = next(s, at)
    if (!at || (end && at > end)) break
    out.push(at)
  }
  return out
}

/** describe reads an expression in plain words, in UTC as the scheduler does. */
export function describe(expr: string): string {
  const text = expr.trim()
  const words = cronstrue.toString(DESCRIPTORS[text.toLowerCase()] ?? text, {
    use24HourTimeFormat: true,
    verbose: true,
    throwExceptionOnParseError: true,
  })
  return `${words} (UTC)`
}

/** at is the six-field expression firing once, at that second (UTC) of that day every year. */
export function at(d: Date): string {
  return `${d.getUTCSeconds()} ${d.getUTCMinutes()} ${d.getUTCHours()} ${d.getUTCDate()} ${d.getUTCMonth() + 1} *`
}
