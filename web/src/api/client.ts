// Calls to this peer's services through the gateway, with the signed-in
// user's bearer token; errors are the services' envelope
// {"error": {"code", "message", "details"}}.

import { uuid } from '../auth/pkce'
import { session } from '../auth/session'
import type { FieldProblem } from './types'

export class ApiError extends Error {
  readonly status: number
  readonly code: string
  readonly details: unknown

  constructor(status: number, code: string, message: string, details?: unknown) {
    super(message)
    this.status = status
    this.code = code
    this.details = details
  }

  /** fields are the per-field problems of a 400 invalid_request. */
  get fields(): FieldProblem[] {
    if (!Array.isArray(this.details)) return []
    return this.details.filter(
      (d): d is FieldProblem => typeof d === 'object' && d !== null && 'field' in d && 'problem' in d,
    )
  }
}

export type Query = Record<string, string | number | boolean | undefined | null | (string | number)[]>

export function queryString(q: Query | undefined): string {
  if (!q) return ''
  const p = new URLSearchParams()
  for (const [k, v] of Object.entries(q)) {
    if (v === undefined || v === null || v === '') continue
    if (Array.isArray(v)) v.forEach((x) => p.append(k, String(x)))
    else p.set(k, String(v))
  }
  const s = p.toString()
  return s ? `?${s}` : ''
}

export interface Options {
  query?: Query
  body?: unknown
  /** version sends If-Match: "<version>". */
  version?: number
  /** idempotent sends an Idempotency-Key, so that a retry creates nothing twice. */
  idempotent?: boolean
  contentType?: string
  signal?: AbortSignal
  headers?: Record<string, string>
}

export interface Answer<T> {
  data: T
  status: number
  etag?: string
}

/** fetchAuthed sends a request with the bearer token, refreshing it once on a 401. */
export async function fetchAuthed(path: string, init: RequestInit): Promise<Response> {
  const send = (token: string | undefined) => {
    const headers = new Headers(init.headers)
    if (token) headers.set('Authorization', `Bearer ${token}`)
    return fetch(path, { ...init, headers })
  }
  let r = await send(await session.accessToken())
  if (r.status === 401 && session.signedIn) {
    const t = await session.refresh()
    if (t) r = await send(t.access)
    if (r.status === 401) session.expire()
  }
  return r
}

export async function request<T>(method: string, path: string, opts: Options = {}): Promise<Answer<T>> {
  const headers: Record<string, string> = { Accept: 'application/json', ...opts.headers }
  let body: BodyInit | undefined
  if (opts.body !== undefined) {
    headers['Content-Type'] = opts.contentType ?? 'application/json'
    body = JSON.stringify(opts.body)
  }
  if (opts.version !== undefined) headers['If-Match'] = `"${opts.version}"`
  if (opts.idempotent) headers['Idempotency-Key'] = uuid()
  const r = await fetchAuthed(path + queryString(opts.query), { method, headers, body, signal: opts.signal })
  return answer<T>(r)
}

export async function answer<T>(r: Response): Promise<Answer<T>> {
  const text = await r.text()
  let data: unknown = undefined
  if (text) {
    try {
      data = JSON.parse(text)
    } catch {
      data = text
    }
  }
  if (!r.ok) throw toError(r.status, data)
  return { data: data as T, status: r.status, etag: r.headers.get('ETag') ?? undefined }
}

export function toError(status: number, data: unknown): ApiError {
  const e = (data as { error?: { code?: string; message?: string; details?: unknown } } | undefined)?.error
  if (e && typeof e === 'object') {
    return new ApiError(status, e.code ?? 'error', e.message ?? `HTTP ${status}`, e.details)
  }
  const fallback: Record<number, string> = {
    401: 'Your session has ended: sign in again.',
    403: 'You may not do this.',
    404: 'Not found, or not visible to you.',
    502: 'A service this peer depends on did not answer.',
    503: 'A service of this peer is unavailable; retry in a moment.',
  }
  return new ApiError(status, 'error', fallback[status] ?? `The server answered HTTP ${status}.`)
}

export const api = {
  get: <T>(path: string, query?: Query, signal?: AbortSignal) => request<T>('GET', path, { query, signal }).then((a) => a.data),
  post: <T>(path: string, body?: unknown, opts: Options = {}) => request<T>('POST', path, { ...opts, body }).then((a) => a.data),
  put: <T>(path: string, body: unknown, opts: Options = {}) => request<T>('PUT', path, { ...opts, body }).then((a) => a.data),
  patch: <T>(path: string, body: unknown, opts: Options = {}) =>
    request<T>('PATCH', path, { contentType: 'application/merge-patch+json', ...opts, body }).then((a) => a.data),
  del: <T = unknown>(path: string, opts: Options = {}) => request<T>('DELETE', path, opts).then((a) => a.data),
}

/** message is what to tell a person about an error. */
export function message(e: unknown): string {
  if (e instanceof ApiError) return e.message
  if (e instanceof DOMException && e.name === 'AbortError') return ''
  if (e instanceof TypeError) return 'This peer could not be reached: check the connection and retry.'
  return e instanceof Error ? e.message : String(e)
}
