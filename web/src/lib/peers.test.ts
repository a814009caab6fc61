import { describe, expect, it } from 'vitest'
import type { PeerResult } from '../api/peers'
import { splitList } from './format'
import { acceptAction, fingerprintOf, millis, missing, searchState } from './peers'

const result = (over: Partial<PeerResult>): PeerResult => ({ peer: 'p', name: 'lab-b', state: 'answered', total: 0, took_ms: 0, ...over })

describe('peers', () => {
  it('computes the fingerprint oc-peer shows for a key', async () => {
    // A key and the X-OC-Key-Fingerprint a real peer sent with it.
    expect(await fingerprintOf('8H7U71Ous3ODpA6u0Fg4uV1DaEzDL_F9BNR9BpLvXJI')).toBe(
      '21AA 4476 8FDC 4C95 4EDF EDDC 1F92 DF0B B5AC 3BDA AAFE D889 17F2 3698 0606 96F5',
    )
  })

  it('names the partnership button after the relation, and says why it cannot be pressed', () => {
    expect(acceptAction({ name: 'lab-b', relation: 'known' })).toEqual({ label: 'Ask for partnership', allowed: true })
    expect(acceptAction({ name: 'lab-b', relation: 'invited' })).toEqual({ label: 'Accept invitation', allowed: true })
    expect(acceptAction({ name: 'lab-b', relation: 'requested' })).toMatchObject({ allowed: false, why: expect.stringContaining('lab-b') })
    expect(acceptAction({ name: 'lab-b', relation: 'partner' })).toMatchObject({ allowed: false, why: 'Already partners.' })
    expect(acceptAction({ name: 'lab-b', relation: 'blocked' })).toMatchObject({ allowed: false })
  })

  it('tells how each peer answered a search', () => {
    expect(searchState(result({ total: 3, took_ms: 12.4 })).text).toBe('answered in 12 ms: 3 results')
    expect(searchState(result({ total: 1, took_ms: 0.42 })).text).toBe('answered in 0.4 ms: 1 result')
    expect(searchState(result({ state: 'timeout', took_ms: 1000.3 })).text).toBe('timed out after 1.0 s')
    expect(searchState(result({ state: 'offline', took_ms: 2 })).text).toBe('offline (2.0 ms)')
    expect(searchState(result({ state: 'refused', took_ms: 20 }))).toEqual({ icon: '⊘', text: 'refused (20 ms)' })
  })

  it('names the peers missing from partial results', () => {
    expect(missing([result({}), result({ name: 'lab-b', state: 'offline' })])).toBe('lab-b (offline)')
    expect(missing([result({ name: 'b', state: 'timeout' }), result({ name: '', peer: 'xyz', state: 'error' }), result({ name: 'd', state: 'refused' })])).toBe(
      'b (timed out), xyz (failed) and d (refused)',
    )
    expect(missing([result({})])).toBe('')
  })

  it('reads lists and times', () => {
    expect(splitList(' eu-labs, ,hpc ')).toEqual(['eu-labs', 'hpc'])
    expect(millis(undefined)).toBe('—')
    expect(millis(25_000)).toBe('25 s')
  })
})
