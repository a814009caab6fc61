import AxeBuilder from '@axe-core/playwright'
import { expect, request, type Page } from '@playwright/test'
import { createHash, randomBytes } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { ADMIN_PASSWORD, peer } from './peer'

export const shots = join(process.cwd(), 'e2e-output', 'screenshots')
mkdirSync(shots, { recursive: true })

/** url is a path of the peer under test. */
export function url(path: string): string {
  return peer().url + path
}

/**
 * signIn goes through oc-auth's real login page (or straight back, while
 * the browser's sign-in session lasts) and lands in the app; base is the
 * peer's URL (the peer under test by default).
 */
export async function signIn(page: Page, path = '/', user = 'admin', password = ADMIN_PASSWORD, base = peer().url) {
  await page.goto(base + path)
  await page.getByRole('button', { name: 'Sign in' }).click()
  const form = page.getByLabel('User name')
  const app = page.getByText('Signed in as')
  await expect(form.or(app)).toBeVisible()
  if (await form.isVisible()) {
    await form.fill(user)
    await page.getByLabel('Password').fill(password)
    await page.getByRole('button', { name: 'Sign in' }).click()
  }
  await expect(app).toBeVisible()
}

/**
 * check is what every page gets: axe finds no WCAG 2 A/AA violation, and a
 * screenshot is saved for a reviewer (e2e-output/screenshots, not committed).
 */
export async function check(page: Page, name: string) {
  await page.waitForLoadState('networkidle').catch(() => undefined)
  await expect(page.getByRole('status').filter({ hasText: /^Loading…$/ })).toHaveCount(0)
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true })
  const result = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']).analyze()
  const found = result.violations.map(
    (v) => `${v.id} (${v.impact}): ${v.help}\n${v.nodes.map((n) => `    ${n.target.join(' ')}: ${n.failureSummary?.split('\n').join(' ')}`).join('\n')}`,
  )
  expect(found, `axe on ${name}`).toEqual([])
}

/**
 * login signs user in at the peer at base the way the web front-end does
 * (authorization code with PKCE through oc-auth's sign-in page, client
 * opencloud-web) and returns an access token, for calls a test makes
 * itself.
 */
export async function login(base: string, user = 'admin', password = ADMIN_PASSWORD): Promise<string> {
  const ctx = await request.newContext()
  try {
    const redirect = `${base}/callback`
    const verifier = randomBytes(32).toString('hex')
    const state = randomBytes(16).toString('hex')
    const q = new URLSearchParams({
      client_id: 'opencloud-web',
      redirect_uri: redirect,
      response_type: 'code',
      scope: 'openid profile',
      state,
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
    })
    const form = await ctx.get(`${base}/auth/authorize?${q}`)
    const id = /name="id" value="([^"]+)"/.exec(await form.text())?.[1]
    if (!id) throw new Error(`authorize at ${base} led to no sign-in form (${form.status()} at ${form.url()})`)
    // Redirects are followed up to the one back to the app, which carries the code.
    let r = await ctx.post(`${base}/auth/login`, { form: { id, username: user, password }, maxRedirects: 0 })
    let to = new URL(r.headers().location ?? '', base)
    for (let hops = 0; r.status() >= 300 && r.status() < 400 && !to.href.startsWith(redirect) && hops < 5; hops++) {
      r = await ctx.get(to.href, { maxRedirects: 0 })
      to = new URL(r.headers().location ?? '', base)
    }
    if (!to.href.startsWith(redirect) || to.searchParams.get('state') !== state || !to.searchParams.get('code')) {
      throw new Error(`sign-in of ${user} at ${base} refused (${r.status()} to ${to.pathname})`)
    }
    const tok = await ctx.post(`${base}/auth/oauth/token`, {
      form: { grant_type: 'authorization_code', code: to.searchParams.get('code') ?? '', redirect_uri: redirect, client_id: 'opencloud-web', code_verifier: verifier },
    })
    const body = (await tok.json()) as { access_token?: string }
    if (!tok.ok() || !body.access_token) throw new Error(`token endpoint of ${base}: ${tok.status()} ${JSON.stringify(body)}`)
    return body.access_token
  } finally {
    await ctx.dispose()
  }
}

/** call sends a JSON request to a peer with a bearer token and reads the JSON answer. */
export async function call<T = unknown>(base: string, token: string, method: string, path: string, body?: unknown): Promise<{ status: number; data: T }> {
  const r = await fetch(base + path, {
    method,
    headers: { Authorization: `Bearer ${token}`, Accept: 'application/json', ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await r.text()
  return { status: r.status, data: (text ? JSON.parse(text) : undefined) as T }
}
