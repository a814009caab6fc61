// How times, sizes and people are shown.

const zone = Intl.DateTimeFormat().resolvedOptions().timeZone

const withZone = new Intl.DateTimeFormat(undefined, {
  year: 'numeric',
  month: 'short',
  day: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  timeZoneName: 'short',
})

/** when shows an instant in the browser's time zone, the zone named. */
export function when(iso: string | undefined): string {
  if (!iso) return '—'
  const d = new Date(iso)
  if (Number.isNaN(d.getTime()) || d.getUTCFullYear() < 2) return '—'
  return withZone.format(d)
}

export function localZone(): string {
  return zone
}

/** toLocalInput is the value of a datetime-local input (seconds kept) for an instant. */
export function toLocalInput(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0')
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`
}

/** fromLocalInput reads a datetime-local value in the browser's zone. */
export function fromLocalInput(v: string): Date | undefined {
  if (!v) return undefined
  const d = new Date(v)
  return Number.isNaN(d.getTime()) ? undefined : d
}

export function bytes(n: number | undefined): string {
  if (!n) return '—'
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB']
  let v = n
  let i = 0
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return `${v >= 10 || i === 0 ? Math.round(v) : v.toFixed(1)} ${units[i]}`
}

export function duration(fromISO?: string, toISO?: string): string {
  if (!fromISO || !toISO) return '—'
  const ms = new Date(toISO).getTime() - new Date(fromISO).getTime()
  if (!(ms >= 0)) return '—'
  const s = Math.round(ms / 1000)
  if (s < 60) return `${s} s`
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`
}

export function refText(r: { peer?: string; id: string } | undefined): string {
  if (!r) return '—'
  return r.peer ? `${r.peer}/${r.id}` : r.id
}

/** splitList reads a comma-separated list, blanks dropped. */
export function splitList(s: string): string[] {
  return s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean)
}
