// A resource's form: its values keyed by their path in the API's body
// ("data.location"), which is also what the server names in its 400s, so
// that each problem lands next to its field.

import type { Kind, Label, ResourceInput, Resource, Visibility } from '../api/types'

export type FormValues = Record<string, string | boolean>

const MiB = 1 << 20
const GiB = 1 << 30

/** Numbers the form shows in a larger unit than the API's bytes. */
const SCALED: Record<string, number> = {
  'processing.requests.memory_bytes': MiB,
  'compute.memory_bytes': GiB,
  'storage.capacity_bytes': GiB,
  'data.size_bytes': MiB,
}

export const NUMBER_FIELDS = new Set([
  'pricing.amount',
  'processing.requests.cpu_millicores',
  'processing.requests.memory_bytes',
  'processing.requests.gpus',
  'compute.cpu_cores',
  'compute.memory_bytes',
  'compute.gpus',
  'compute.carbon_intensity',
  'storage.capacity_bytes',
  'data.size_bytes',
])

/** LIST_FIELDS are entered one item a line; PAIR_FIELDS as key=value lines. */
export const LIST_FIELDS = new Set(['processing.command', 'processing.args', 'compute.security_standards'])
export const PAIR_FIELDS = new Set(['processing.env', 'processing.annotations', 'compute.node_selector'])
export const COMMA_FIELDS = new Set(['tags', 'groups', 'processing.ports'])

export function emptyValues(kind: Kind): FormValues {
  return { kind, name: '', visibility: 'private', 'pricing.model': 'free' }
}

function lines(s: string): string[] {
  return s
    .split('\n')
    .map((x) => x.trim())
    .filter(Boolean)
}

function pairs(s: string): Label[] {
  return lines(s).map((l) => {
    const i = l.indexOf('=')
    return i < 0 ? { key: l } : { key: l.slice(0, i).trim(), value: l.slice(i + 1).trim() }
  })
}

function setPath(o: Record<string, unknown>, path: string, v: unknown) {
  const parts = path.split('.')
  let cur = o
  for (const p of parts.slice(0, -1)) {
    cur[p] ??= {}
    cur = cur[p] as Record<string, unknown>
  }
  cur[parts[parts.length - 1]] = v
}

function getPath(o: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((cur, p) => (cur && typeof cur === 'object' ? (cur as Record<string, unknown>)[p] : undefined), o)
}

/**
 * toInput is the body of a create or replace. Fields of other kinds than
 * the chosen one are left out; a number that is not one is sent as it is,
 * for the server to name.
 */
export function toInput(v: FormValues): ResourceInput {
  const kind = v.kind as Kind
  const out: Record<string, unknown> = {}
  for (const [path, raw] of Object.entries(v)) {
    const head = path.split('.')[0]
    if (['data', 'processing', 'storage', 'compute', 'workflow'].includes(head) && head !== kind) continue
    if (head === 'pricing' && path !== 'pricing.model' && v['pricing.model'] === 'free') continue
    if (path === 'pricing.period' && v['pricing.model'] !== 'subscription') continue
    if (path === 'groups' && v.visibility !== 'groups') continue
    if (typeof raw === 'boolean') {
      if (raw) setPath(out, path, true)
      continue
    }
    const s = raw.trim()
    if (s === '') continue
    if (NUMBER_FIELDS.has(path)) {
      const n = Number(s)
      setPath(out, path, Number.isFinite(n) ? Math.round(n * (SCALED[path] ?? 1) * 1000) / 1000 : s)
    } else if (LIST_FIELDS.has(path)) setPath(out, path, lines(raw))
    else if (PAIR_FIELDS.has(path)) {
      const ps = pairs(raw)
      setPath(out, path, path === 'processing.env' ? Object.fromEntries(ps.map((p) => [p.key, p.value ?? ''])) : ps)
    } else if (COMMA_FIELDS.has(path)) {
      const items = s.split(',').map((x) => x.trim()).filter(Boolean)
      setPath(out, path, path === 'processing.ports' ? items.map((x) => (Number.isInteger(Number(x)) ? Number(x) : x)) : items)
    } else setPath(out, path, s)
  }
  // The kind's object is required, even empty: the server names its missing fields.
  out[kind] ??= {}
  return out as unknown as ResourceInput
}

const FORM_PATHS = [
  'name', 'short_description', 'description', 'visibility', 'groups', 'tags', 'license', 'logo',
  'pricing.model', 'pricing.amount', 'pricing.currency', 'pricing.period',
  'data.location', 'data.format', 'data.jurisdiction', 'data.personal_data', 'data.size_bytes',
  'processing.image', 'processing.command', 'processing.args', 'processing.env', 'processing.open_source',
  'processing.ports', 'processing.requests.cpu_millicores', 'processing.requests.memory_bytes', 'processing.requests.gpus',
  'processing.annotations',
  'storage.endpoint', 'storage.bucket', 'storage.region', 'storage.jurisdiction', 'storage.encryption', 'storage.capacity_bytes',
  'compute.cluster_ref', 'compute.architecture', 'compute.country', 'compute.location', 'compute.cpu_cores',
  'compute.memory_bytes', 'compute.gpus', 'compute.gpu_model', 'compute.carbon_intensity', 'compute.security_standards',
  'compute.node_selector',
  'workflow.workflow_id',
]

/** fromResource fills the form from a stored resource. */
export function fromResource(r: Resource): FormValues {
  const v: FormValues = { kind: r.kind, visibility: (r.visibility ?? 'private') as Visibility, 'pricing.model': r.pricing?.model ?? 'free' }
  for (const path of FORM_PATHS) {
    const x = getPath(r, path)
    if (x === undefined || x === null) continue
    if (typeof x === 'boolean') v[path] = x
    else if (typeof x === 'number') v[path] = String(x / (SCALED[path] ?? 1))
    else if (LIST_FIELDS.has(path)) v[path] = (x as string[]).join('\n')
    else if (path === 'processing.env') v[path] = Object.entries(x as Record<string, string>).map(([k, val]) => `${k}=${val}`).join('\n')
    else if (PAIR_FIELDS.has(path)) v[path] = (x as Label[]).map((l) => (l.value === undefined ? l.key : `${l.key}=${l.value}`)).join('\n')
    else if (COMMA_FIELDS.has(path)) v[path] = (x as unknown[]).join(', ')
    else v[path] = String(x)
  }
  return v
}

/**
 * formPath is the form field a server's field path belongs to:
 * "processing.env.HOME" is shown at "processing.env", "tags[2]" at "tags".
 */
export function formPath(serverField: string): string {
  const plain = serverField.replace(/\[\d+\]/g, '')
  return FORM_PATHS.find((p) => plain === p || plain.startsWith(p + '.')) ?? plain
}
