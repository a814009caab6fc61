import AxeBuilder from '@axe-core/playwright'
import { expect, type Page } from '@playwright/test'
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
 * the browser's sign-in session lasts) and lands in the app.
 */
export async function signIn(page: Page, path = '/', user = 'admin', password = ADMIN_PASSWORD) {
  await page.goto(url(path))
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
