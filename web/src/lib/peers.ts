// How peers, their partnership and their answers to a search are told.

import type { Peer, PeerResult, PeerStatus, Relation } from '../api/peers'

function fromBase64url(s: string): Uint8Array<ArrayBuffer> {
  const b64 = s.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (s.length % 4)) % 4)
  const bin = atob(b64)
  const out = new Uint8Array(bin.length)
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i)
  return out
}

/**
 * fingerprintOf is the fingerprint of a public key (base64url, as in a
 * self document): SHA-256, upper-case hexadecimal in groups of 4, as
 * oc-peer shows it. It rejects where the browser has no Web Crypto (a
 * page served over plain HTTP to another host).
 */
export async function fingerprintOf(publicKey: string): Promise<string> {
  if (!globalThis.crypto?.subtle) throw new Error('no Web Crypto here')
  const sum = new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', fromBase64url(publicKey)))
  const hex = Array.from(sum, (b) => b.toString(16).padStart(2, '0'))
    .join('')
    .toUpperCase()
  return hex.match(/.{1,4}/g)?.join(' ') ?? ''
}

/** AcceptAction is the partnership button of a peer: its label, whether it may be pressed, and why not. */
export interface AcceptAction {
  label: string
  allowed: boolean
  why?: string
}

export function acceptAction(p: Pick<Peer, 'name' | 'relation'>): AcceptAction {
  const name = p.name || 'the peer'
  switch (p.relation) {
    case 'known':
      return { label: 'Ask for partnership', allowed: true }
    case 'invited':
      return { label: 'Accept invitation', allowed: true }
    case 'requested':
      return { label: 'Ask for partnership', allowed: false, why: `Asked: waiting for the administrator of ${name} to accept.` }
    case 'partner':
      return { label: 'Ask for partnership', allowed: false, why: 'Already partners.' }
    case 'blocked':
      return { label: 'Ask for partnership', allowed: false, why: 'Blocked: unblock it first.' }
  }
}

export const RELATION_TEXT: Record<Relation, { icon: string; text: string }> = {
  known: { icon: '○', text: 'known' },
  requested: { icon: '→', text: 'requested' },
  invited: { icon: '←', text: 'invited' },
  partner: { icon: '⇄', text: 'partner' },
  blocked: { icon: '⊘', text: 'blocked' },
}

/** RELATION_HELP says what a relation means, for the list's readers. */
export const RELATION_HELP: Record<Relation, string> = {
  known: 'Added, key pinned; no partnership asked.',
  requested: 'This peer asked for a partnership; the other has not accepted yet.',
  invited: 'The other peer asked for a partnership; accept it to become partners.',
  partner: 'Partners: catalogs shared with partners are searched, and steps may run on each other.',
  blocked: 'Every call of this peer is refused.',
}

export const PENDING_TEXT: Record<string, string> = {
  request: 'The partnership request has not reached the peer yet: it is sent again with every heartbeat.',
  accept: 'The acceptance has not reached the peer yet: it is sent again with every heartbeat.',
  end: 'The end of the partnership has not reached the peer yet: it is sent again with every heartbeat.',
}

/** rtt shows a round-trip time in milliseconds. */
export function millis(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '—'
  if (ms >= 1000) return `${(ms / 1000).toFixed(ms >= 10_000 ? 0 : 1)} s`
  if (ms >= 10) return `${Math.round(ms)} ms`
  return `${ms.toFixed(1)} ms`
}

export const HEALTH_TEXT: Record<PeerStatus['health'], { icon: string; text: string }> = {
  online: { icon: '●', text: 'online' },
  offline: { icon: '✕', text: 'offline' },
  unknown: { icon: '?', text: 'not checked yet' },
}

const SEARCH_TEXT: Record<PeerResult['state'], { icon: string; text: string }> = {
  answered: { icon: '✓', text: 'answered' },
  timeout: { icon: '⏱', text: 'timed out' },
  offline: { icon: '✕', text: 'offline' },
  refused: { icon: '⊘', text: 'refused' },
  error: { icon: '!', text: 'failed' },
}

/** searchState tells how a peer answered a search: icon and words, time taken. */
export function searchState(r: PeerResult): { icon: string; text: string } {
  const s = SEARCH_TEXT[r.state] ?? { icon: '•', text: r.state }
  const took = millis(r.took_ms)
  switch (r.state) {
    case 'answered':
      return { icon: s.icon, text: `${s.text} in ${took}: ${r.total} result${r.total === 1 ? '' : 's'}` }
    case 'timeout':
      return { icon: s.icon, text: `${s.text} after ${took}` }
    default:
      return { icon: s.icon, text: `${s.text} (${took})` }
  }
}

/** missing names the peers of a search that gave nothing, for the partial results notice. */
export function missing(peers: PeerResult[]): string {
  const names = peers.filter((p) => p.state !== 'answered').map((p) => `${p.name || p.peer} (${SEARCH_TEXT[p.state]?.text ?? p.state})`)
  if (names.length <= 1) return names.join('')
  return `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`
}
