// oc-peer (the peers this one knows, partnerships) and the catalog's
// search across partners (oc-catalog), as their Swagger documents them.

import { fingerprintOf } from '../lib/peers'
import { api, ApiError, answer, request, type Query } from './client'
import type { Page, Resource } from './types'

export type Relation = 'known' | 'requested' | 'invited' | 'partner' | 'blocked'
export const RELATIONS: Relation[] = ['known', 'requested', 'invited', 'partner', 'blocked']
export type Health = 'unknown' | 'online' | 'offline'

/** PeerStatus is what the heartbeats found of a peer. */
export interface PeerStatus {
  health: Health
  last_seen?: string
  last_checked?: string
  rtt_ms?: number
  last_error?: string
}

/** Peer is another peer as this one knows it (GET /peer/peers). */
export interface Peer {
  id: string
  name: string
  url: string
  /** fingerprint of its pinned key, to compare out of band. */
  fingerprint: string
  relation: Relation
  groups: string[] | null
  offers: string[] | null
  status: PeerStatus
  /** pending is a partnership message not yet delivered to the peer. */
  pending?: '' | 'request' | 'accept' | 'end'
  added_at: string
  updated_at: string
  version: number
}

export interface SelfKey {
  id: string
  alg: string
  public_key: string
  not_before: string
  not_after?: string
}

/** SelfDoc is a peer's signed self document (GET /peer/self). */
export interface SelfDoc {
  id: string
  name: string
  url: string
  keys: SelfKey[]
  offers?: string[]
  issued_at: string
  signature: { key_id: string; value: string }
}

/** Self is this peer's identity, with the fingerprint of its signing key. */
export interface Self {
  doc: SelfDoc
  fingerprint: string
}

/**
 * getSelf reads this peer's self document. The fingerprint is computed
 * from the signing key in the document when the browser can (a secure
 * context), else taken from the X-OC-Key-Fingerprint header.
 */
export async function getSelf(signal?: AbortSignal): Promise<Self> {
  const r = await fetch('/peer/self', { headers: { Accept: 'application/json' }, signal })
  const { data: doc } = await answer<SelfDoc>(r)
  const key = doc.keys.find((k) => k.id === doc.signature.key_id) ?? doc.keys[doc.keys.length - 1]
  const computed = key ? await fingerprintOf(key.public_key).catch(() => undefined) : undefined
  return { doc, fingerprint: computed ?? r.headers.get('X-OC-Key-Fingerprint') ?? '' }
}

export interface PeerQuery {
  relation?: Relation
  group?: string
  q?: string
  limit?: number
  offset?: number
}

export function listPeerPage(q: PeerQuery, signal?: AbortSignal): Promise<Page<Peer>> {
  return api.get<Page<Peer>>('/peer/peers', { ...q }, signal)
}

/**
 * listPeers is the first 200 peers (of a relation); null when this peer
 * serves no list of peers.
 */
export async function listPeers(signal?: AbortSignal, relation?: Relation): Promise<Peer[] | null> {
  try {
    return (await listPeerPage({ relation, limit: 200 }, signal)).items ?? []
  } catch (e) {
    if (e instanceof ApiError && (e.status === 404 || e.status === 405)) return null
    throw e
  }
}

/** Added is a peer added by URL; created is false when it was known already. */
export interface Added {
  peer: Peer
  created: boolean
}

export async function addPeer(url: string, groups: string[]): Promise<Added> {
  const a = await request<Peer>('POST', '/peer/peers', { body: { url, groups: groups.length ? groups : undefined } })
  return { peer: a.data, created: a.status === 201 }
}

const peerPath = (id: string) => `/peer/peers/${encodeURIComponent(id)}`

export function setGroups(p: Peer, groups: string[]): Promise<Peer> {
  return request<Peer>('PATCH', peerPath(p.id), { body: { groups }, version: p.version }).then((a) => a.data)
}

export function removePeer(p: Peer): Promise<unknown> {
  return api.del(peerPath(p.id))
}

export type PeerAction = 'accept' | 'block' | 'unblock'

export function peerAction(p: Peer, action: PeerAction): Promise<Peer> {
  return api.post<Peer>(`${peerPath(p.id)}/${action}`)
}

// The catalog's search across this peer and its partners.

export type SearchState = 'answered' | 'timeout' | 'offline' | 'refused' | 'error'

/** PeerResult is what one peer gave to a search. */
export interface PeerResult {
  peer: string
  name: string
  self?: boolean
  state: SearchState
  total: number
  took_ms: number
  fetched_at?: string
  error?: string
}

export interface SearchResult extends Page<Resource> {
  partial: boolean
  peers: PeerResult[] | null
}

export function searchCatalog(q: Query, signal?: AbortSignal): Promise<SearchResult> {
  return api.get<SearchResult>('/catalog/search', q, signal)
}
