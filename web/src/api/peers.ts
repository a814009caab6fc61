import { api, ApiError } from './client'
import type { Page } from './types'

/** Peer is a known peer as oc-peer lists it. */
export interface Peer {
  id: string
  name?: string
  url?: string
  relation?: string
  state?: string
  last_seen?: string
}

/**
 * listPeers asks oc-peer for the known peers; null when this peer's oc-peer
 * serves no list of peers.
 */
export async function listPeers(signal?: AbortSignal): Promise<Peer[] | null> {
  try {
    const page = await api.get<Page<Peer> | Peer[]>('/peer/peers', { limit: 200 }, signal)
    return Array.isArray(page) ? page : (page.items ?? [])
  } catch (e) {
    if (e instanceof ApiError && (e.status === 404 || e.status === 405)) return null
    throw e
  }
}
