import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { Session } from './session'

// A browser's storage and oc-auth's discovery and token endpoints, as
// far as a session uses them.
class Storage {
  private m = new Map<string, string>()
  getItem(k: string) {
    return this.m.get(k) ?? null
  }
  setItem(k: string, v: string) {
    this.m.set(k, v)
  }
  removeItem(k: string) {
    this.m.delete(k)
  }
}

const discovery = {
  issuer: 'http://127.0.0.1:8000/auth',
  authorization_endpoint: 'http://127.0.0.1:8000/auth/authorize',
  token_endpoint: 'http://127.0.0.1:8000/auth/oauth/token',
}

let tokenCalls: URLSearchParams[] = []
let answer: () => Response

beforeEach(() => {
  // The sessions' refresh timers never fire during a test.
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
  vi.stubGlobal('sessionStorage', new Storage())
  tokenCalls = []
  answer = () => Response.json({ access_token: `access-${tokenCalls.length}`, refresh_token: `refresh-${tokenCalls.length}`, expires_in: 900 })
  vi.stubGlobal(
    'fetch',
    vi.fn(async (url: string, init?: RequestInit) => {
      if (url.endsWith('/openid-configuration')) return Response.json(discovery)
      tokenCalls.push(new URLSearchParams(String(init?.body)))
      await Promise.resolve()
      return answer()
    }),
  )
})

afterEach(() => {
  vi.useRealTimers()
  vi.unstubAllGlobals()
})

function signedIn(expiresInMs: number): Session {
  sessionStorage.setItem('oc.tokens', JSON.stringify({ access: 'old', refresh: 'refresh-0', expiresAt: Date.now() + expiresInMs }))
  return new Session()
}

describe('session', () => {
  it('gives the token it has while it is fresh', async () => {
    const s = signedIn(10 * 60_000)
    expect(await s.accessToken()).toBe('old')
    expect(tokenCalls).toHaveLength(0)
  })

  it('refreshes a token about to expire once, whoever asks at the same time', async () => {
    const s = signedIn(5_000)
    const got = await Promise.all([s.accessToken(), s.accessToken(), s.accessToken()])
    expect(got).toEqual(['access-1', 'access-1', 'access-1'])
    // oc-auth rotates refresh tokens: a second use of one would end the sign-in.
    expect(tokenCalls).toHaveLength(1)
    expect(tokenCalls[0].get('grant_type')).toBe('refresh_token')
    expect(tokenCalls[0].get('refresh_token')).toBe('refresh-0')
    expect(tokenCalls[0].get('client_id')).toBe('opencloud-web')
    // The next refresh sends the new refresh token.
    await s.refresh()
    expect(tokenCalls[1].get('refresh_token')).toBe('refresh-1')
    expect(JSON.parse(sessionStorage.getItem('oc.tokens') ?? '{}').refresh).toBe('refresh-2')
  })

  it('signs out when oc-auth refuses the refresh token', async () => {
    const s = signedIn(5_000)
    let told = 0
    s.subscribe(() => told++)
    answer = () => Response.json({ error: 'invalid_grant' }, { status: 400 })
    expect(await s.accessToken()).toBeUndefined()
    expect(s.signedIn).toBe(false)
    expect(told).toBe(1)
    expect(sessionStorage.getItem('oc.tokens')).toBeNull()
  })

  it('keeps the tokens when the network fails', async () => {
    const s = signedIn(5_000)
    answer = () => {
      throw new TypeError('Failed to fetch')
    }
    expect(await s.accessToken()).toBeUndefined()
    expect(s.signedIn).toBe(true)
  })
})
