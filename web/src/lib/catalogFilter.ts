// The catalog's filters as the page's URL keeps them, so that a reload or
// a shared link shows the same list.

import type { Query } from '../api/client'
import { KINDS, VISIBILITIES, type Kind, type Visibility } from '../api/types'

export interface CatalogFilter {
  q: string
  kind?: Kind
  tags: string[]
  owner?: string
  visibility?: Visibility
  /**
   * partners searches this peer's catalog and every partner's at once
   * (GET /catalog/search) instead of this peer's only.
   */
  partners: boolean
  /**
   * peers are the owning peers shown: asked of the search across partners,
   * or filtered from what this peer's catalog answered.
   */
  peers: string[]
  sort: string
  page: number
}

export const PAGE_SIZE = 20
export const SORTS: Record<string, string> = {
  name: 'Name',
  '-updated_at': 'Recently changed',
  '-created_at': 'Newest',
  kind: 'Kind',
}

export function readFilter(p: URLSearchParams): CatalogFilter {
  const kind = p.get('kind') as Kind | null
  const vis = p.get('visibility') as Visibility | null
  const page = Number(p.get('page') ?? '1')
  const sort = p.get('sort') ?? 'name'
  return {
    q: p.get('q') ?? '',
    kind: kind && KINDS.includes(kind) ? kind : undefined,
    tags: p.getAll('tag').filter(Boolean),
    owner: p.get('owner') || undefined,
    visibility: vis && VISIBILITIES.includes(vis) ? vis : undefined,
    partners: p.get('partners') === '1',
    peers: p.getAll('peer').filter(Boolean),
    sort: sort in SORTS ? sort : 'name',
    page: Number.isInteger(page) && page > 0 ? page : 1,
  }
}

/** writeFilter is the URL form of a filter, defaults left out. */
export function writeFilter(f: CatalogFilter): URLSearchParams {
  const p = new URLSearchParams()
  if (f.q) p.set('q', f.q)
  if (f.kind) p.set('kind', f.kind)
  f.tags.forEach((t) => p.append('tag', t))
  if (f.owner) p.set('owner', f.owner)
  if (f.visibility) p.set('visibility', f.visibility)
  if (f.partners) p.set('partners', '1')
  f.peers.forEach((x) => p.append('peer', x))
  if (f.sort !== 'name') p.set('sort', f.sort)
  if (f.page > 1) p.set('page', String(f.page))
  return p
}

/** apiQuery is GET /catalog/resources's query for a filter. */
export function apiQuery(f: CatalogFilter, without?: keyof CatalogFilter): Query {
  return {
    q: f.q.trim() || undefined,
    kind: without === 'kind' ? undefined : f.kind,
    tag: without === 'tags' ? undefined : f.tags,
    owner: without === 'owner' ? undefined : f.owner,
    visibility: without === 'visibility' ? undefined : f.visibility,
    sort: f.sort,
    limit: PAGE_SIZE,
    offset: (f.page - 1) * PAGE_SIZE,
  }
}

/** searchQuery is GET /catalog/search's query for a filter. */
export function searchQuery(f: CatalogFilter): Query {
  return { ...apiQuery(f), peer: f.peers }
}

/** toggle changes one facet, back to the first page. */
export function toggle<K extends keyof CatalogFilter>(f: CatalogFilter, key: K, value: CatalogFilter[K]): CatalogFilter {
  return { ...f, [key]: f[key] === value ? undefined : value, page: 1 }
}

/** toggleIn adds a value to a list facet or takes it out, back to the first page. */
export function toggleIn(f: CatalogFilter, key: 'tags' | 'peers', value: string): CatalogFilter {
  const list = f[key]
  return { ...f, [key]: list.includes(value) ? list.filter((t) => t !== value) : [...list, value], page: 1 }
}

export function toggleTag(f: CatalogFilter, tag: string): CatalogFilter {
  return toggleIn(f, 'tags', tag)
}

/** count tallies the values items have, most frequent first. */
export function count<T>(items: T[], values: (item: T) => string[] | string | undefined): [string, number][] {
  const m = new Map<string, number>()
  for (const it of items) {
    const v = values(it)
    for (const x of Array.isArray(v) ? v : v ? [v] : []) m.set(x, (m.get(x) ?? 0) + 1)
  }
  return [...m.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
}
