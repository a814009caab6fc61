// Sign-in with oc-auth: authorization code + PKCE for the public client
// opencloud-web, tokens kept for this tab (sessionStorage) and refreshed
// before they expire, one refresh at a time (oc-auth rotates refresh tokens
// and takes a second use of one for a theft).

import { challenge, randomToken } from './pkce'

export const CLIENT_ID = 'opencloud-web'
const SCOPE = 'openid profile email offline_access'
const TOKENS_KEY = 'oc.tokens'
const PENDING_KEY = 'oc.signin'
/** How long before expiry the access token is renewed. */
const EARLY_MS = 60_000

interface Discovery {
  issuer: string
  authorization_endpoint: string
  token_endpoint: string
  end_session_endpoint?: string
}

export interface Tokens {
  access: string
  refresh?: string
  id?: string
  /** epoch milliseconds */
  expiresAt: number
}

interface Pending {
  state: string
  verifier: string
  returnTo: string
  redirectURI: string
}

export class SignInError extends Error {}

let discovery: Promise<Discovery> | undefined

function discover(): Promise<Discovery> {
  discovery ??= fetch('/auth/.well-known/openid-configuration', { headers: { Accept: 'application/json' } }).then(
    async (r) => {
      if (!r.ok) throw new SignInError(`this peer's sign-in service did not answer (HTTP ${r.status})`)
      return (await r.json()) as Discovery
    },
  )
  discovery.catch(() => (discovery = undefined))
  return discovery
}

/**
 * publicOrigin is the origin the peer's tokens are issued for: the only one
 * whose /callback oc-auth accepts as a redirect URI.
 */
function publicOrigin(d: Discovery): string {
  return new URL(d.issuer).origin
}

type Listener = () => void

export class Session {
  private tokens: Tokens | undefined
  private refreshing: Promise<Tokens | undefined> | undefined
  private timer: ReturnType<typeof setTimeout> | undefined
  private listeners = new Set<Listener>()

  constructor() {
    try {
      const raw = sessionStorage.getItem(TOKENS_KEY)
      if (raw) this.tokens = JSON.parse(raw) as Tokens
    } catch {
      this.tokens = undefined
    }
    this.schedule()
  }

  get signedIn(): boolean {
    return this.tokens !== undefined
  }

  /** claims of the access token (not verified: the services verify it). */
  claims(): Record<string, unknown> {
    const t = this.tokens?.access
    if (!t) return {}
    try {
      const part = t.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')
      const bytes = Uint8Array.from(atob(part), (c) => c.charCodeAt(0))
      return JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>
    } catch {
      return {}
    }
  }

  subscribe(l: Listener): () => void {
    this.listeners.add(l)
    return () => this.listeners.delete(l)
  }

  private set(t: Tokens | undefined) {
    this.tokens = t
    if (t) sessionStorage.setItem(TOKENS_KEY, JSON.stringify(t))
    else sessionStorage.removeItem(TOKENS_KEY)
    this.schedule()
    this.listeners.forEach((l) => l())
  }

  private schedule() {
    clearTimeout(this.timer)
    const t = this.tokens
    if (!t?.refresh) return
    const wait = Math.max(t.expiresAt - EARLY_MS - Date.now(), 1_000)
    this.timer = setTimeout(() => void this.refresh(), Math.min(wait, 2 ** 31 - 1))
  }

  /** accessToken is a token valid for a minute at least, refreshed if need be; undefined when signed out. */
  async accessToken(): Promise<string | undefined> {
    const t = this.tokens
    if (!t) return undefined
    if (t.expiresAt - Date.now() > EARLY_MS / 2) return t.access
    return (await this.refresh())?.access
  }

  /** refresh renews the tokens; concurrent callers share one request. */
  refresh(): Promise<Tokens | undefined> {
    this.refreshing ??= this.doRefresh().finally(() => (this.refreshing = undefined))
    return this.refreshing
  }

  private async doRefresh(): Promise<Tokens | undefined> {
    const t = this.tokens
    if (!t?.refresh) {
      this.set(undefined)
      return undefined
    }
    try {
      const d = await discover()
      const next = await tokenRequest(d, { grant_type: 'refresh_token', refresh_token: t.refresh, client_id: CLIENT_ID })
      const merged = { ...next, id: next.id ?? t.id, refresh: next.refresh ?? t.refresh }
      this.set(merged)
      return merged
    } catch (e) {
      if (e instanceof TypeError) {
        // The network, not the grant: try again shortly, keep the tokens.
        this.timer = setTimeout(() => void this.refresh(), 10_000)
        return undefined
      }
      this.set(undefined)
      return undefined
    }
  }

  /** signIn leaves for oc-auth's login page; the browser comes back to /callback. */
  async signIn(returnTo: string): Promise<void> {
    const d = await discover()
    const origin = publicOrigin(d)
    if (origin !== location.origin) {
      // Tokens and redirect URIs belong to the public URL: go there first.
      location.assign(origin + returnTo)
      return
    }
    const pending: Pending = { state: randomToken(), verifier: randomToken(), returnTo, redirectURI: origin + '/callback' }
    sessionStorage.setItem(PENDING_KEY, JSON.stringify(pending))
    const q = new URLSearchParams({
      client_id: CLIENT_ID,
      redirect_uri: pending.redirectURI,
      response_type: 'code',
      scope: SCOPE,
      state: pending.state,
      code_challenge: await challenge(pending.verifier),
      code_challenge_method: 'S256',
    })
    location.assign(`${d.authorization_endpoint}?${q}`)
  }

  /** complete finishes a sign-in at /callback; it answers where to go next. */
  async complete(search: string): Promise<string> {
    const q = new URLSearchParams(search)
    const raw = sessionStorage.getItem(PENDING_KEY)
    sessionStorage.removeItem(PENDING_KEY)
    const pending = raw ? (JSON.parse(raw) as Pending) : undefined
    if (q.get('error')) {
      throw new SignInError(
        q.get('error') === 'access_denied'
          ? 'Sign-in was cancelled.'
          : `Sign-in failed: ${q.get('error_description') ?? q.get('error')}`,
      )
    }
    if (!pending || q.get('state') !== pending.state || !q.get('code')) {
      throw new SignInError('This sign-in link is stale or was not started here: sign in again.')
    }
    const d = await discover()
    const t = await tokenRequest(d, {
      grant_type: 'authorization_code',
      code: q.get('code') ?? '',
      redirect_uri: pending.redirectURI,
      client_id: CLIENT_ID,
      code_verifier: pending.verifier,
    })
    this.set(t)
    return pending.returnTo
  }

  /**
   * signOut ends the sign-in session at oc-auth, which also revokes the
   * refresh tokens of this client for the user.
   */
  async signOut(): Promise<void> {
    const t = this.tokens
    this.set(undefined)
    const d = await discover().catch(() => undefined)
    if (!d) return
    if (d.end_session_endpoint) {
      const q = new URLSearchParams({ client_id: CLIENT_ID, post_logout_redirect_uri: publicOrigin(d) + '/' })
      if (t?.id) q.set('id_token_hint', t.id)
      location.assign(`${d.end_session_endpoint}?${q}`)
    }
  }

  /** expire drops tokens the services refused. */
  expire() {
    this.set(undefined)
  }
}

async function tokenRequest(d: Discovery, form: Record<string, string>): Promise<Tokens> {
  const r = await fetch(d.token_endpoint, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
    body: new URLSearchParams(form),
  })
  const body = (await r.json().catch(() => ({}))) as Record<string, unknown>
  if (!r.ok || typeof body.access_token !== 'string') {
    throw new SignInError(`the token endpoint refused: ${String(body.error_description ?? body.error ?? r.status)}`)
  }
  return {
    access: body.access_token,
    refresh: typeof body.refresh_token === 'string' ? body.refresh_token : undefined,
    id: typeof body.id_token === 'string' ? body.id_token : undefined,
    expiresAt: Date.now() + (typeof body.expires_in === 'number' ? body.expires_in : 300) * 1000,
  }
}

export const session = new Session()
