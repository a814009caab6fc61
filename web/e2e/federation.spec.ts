// Two real peers federate through their administrators' pages: the
// administrator of lab-a adds lab-b by its URL, compares the fingerprint
// lab-b itself publishes, and asks for a partnership, which lab-b's
// administrator accepts (through lab-b's API); what lab-b shares with
// partners is then found by lab-a's search across partners, with lab-b's
// name, and once lab-b is stopped the search says so at once instead of
// waiting for it. A user of lab-a sees the peers without the actions.

import { expect, test, type Locator, type Page } from '@playwright/test'
import { call, check, login, signIn } from './helpers'
import { ADMIN_PASSWORD, launchTracked, stopTracked, type Launched } from './peer'

test.describe.configure({ mode: 'serial' })

let a: Launched
let b: Launched
let page: Page
let tokenA: string
let tokenB: string

interface SelfDoc {
  id: string
  name: string
}

async function self(p: Launched): Promise<{ doc: SelfDoc; fingerprint: string }> {
  const r = await fetch(`${p.url}/peer/self`)
  expect(r.status).toBe(200)
  return { doc: (await r.json()) as SelfDoc, fingerprint: r.headers.get('X-OC-Key-Fingerprint') ?? '' }
}

/** card is the Peers page's entry of the peer named name. */
const card = (pg: Page, name: string): Locator => pg.getByRole('listitem').filter({ has: pg.getByRole('heading', { name, exact: true }) })

/** eventually reloads the page until check passes. */
async function eventually(pg: Page, check: () => Promise<void>, timeout = 20_000) {
  await expect(async () => {
    await pg.reload()
    await check()
  }).toPass({ timeout, intervals: [500, 1000] })
}

test.beforeAll(async ({ browser }) => {
  // Heartbeats every 2 s: health shows within seconds.
  const env = { OC_PEER_HEARTBEAT: '2s', OC_LOG_LEVEL: 'warn' }
  ;[a, b] = await Promise.all([launchTracked({ name: 'lab-a', env }), launchTracked({ name: 'lab-b', env })])
  ;[tokenA, tokenB] = await Promise.all([login(a.url), login(b.url)])
  page = await (await browser.newContext()).newPage()
})

test.afterAll(async () => {
  await page?.context().close()
  await Promise.all([a, b].filter(Boolean).map((p) => stopTracked(p)))
})

test('the administrator adds a peer by URL and compares its fingerprint before asking for partnership', async () => {
  await signIn(page, '/peers', 'admin', ADMIN_PASSWORD, a.url)
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Peers')
  // This peer's identity card: what lab-a's administrator reads out.
  const ownCard = page.getByRole('region', { name: 'This peer' })
  await expect(ownCard.locator('.fingerprint')).toHaveText((await self(a)).fingerprint)
  await expect(ownCard).toContainText('lab-a')

  // This peer's own URL is refused, with the API's reason.
  const add = page.getByRole('region', { name: 'Add a peer by URL' })
  await add.getByLabel('URL of the peer').fill(a.url)
  await add.getByRole('button', { name: 'Add peer' }).click()
  await expect(add.getByRole('alert')).toContainText('The peer could not be added')
  await expect(add.getByRole('alert')).toContainText("this peer's own URL")

  await add.getByLabel('URL of the peer').fill(b.url)
  await add.getByLabel('Groups').fill('eu-labs')
  await add.getByRole('button', { name: 'Add peer' }).click()
  const compare = page.getByRole('region', { name: 'Compare the fingerprint of lab-b' })
  await expect(compare).toContainText('lab-b was added')
  // What lab-b says of itself, read from lab-b directly.
  const bSelf = await self(b)
  expect(bSelf.fingerprint).toMatch(/^([0-9A-F]{4} ){15}[0-9A-F]{4}$/)
  await expect(compare.locator('.fingerprint')).toHaveText(bSelf.fingerprint)
  await expect(compare).toContainText('Before accepting, compare it')
  await expect(card(page, 'lab-b').locator('.state-known')).toBeVisible()
  await check(page, 'peers-01-compare')

  await compare.getByRole('button', { name: 'They match: ask for partnership' }).click()
  await expect(compare).toContainText('waiting for the administrator of lab-b to accept')
  const entry = card(page, 'lab-b')
  await expect(entry.locator('.state-requested')).toBeVisible()
  await expect(entry.getByRole('button', { name: 'Ask for partnership' })).toBeDisabled()
  await expect(entry).toContainText('eu-labs')
})

test('once the other administrator accepts, both are partners and the page shows it', async () => {
  const aId = (await self(a)).doc.id
  // lab-b received the request: lab-a is invited there.
  await expect
    .poll(async () => (await call<{ relation: string }>(b.url, tokenB, 'GET', `/peer/peers/${aId}`)).data?.relation, { timeout: 15_000 })
    .toBe('invited')
  const accepted = await call<{ relation: string }>(b.url, tokenB, 'POST', `/peer/peers/${aId}/accept`)
  expect(accepted.status).toBe(200)
  expect(accepted.data.relation).toBe('partner')

  const entry = card(page, 'lab-b')
  await eventually(page, async () => {
    await expect(entry.locator('.state-partner')).toBeVisible({ timeout: 1000 })
  })
  await expect(entry.getByRole('button', { name: 'Ask for partnership' })).toBeDisabled()
  await expect(entry).toContainText('Already partners.')
  await eventually(page, async () => {
    await expect(entry.locator('.state-online')).toBeVisible({ timeout: 1000 })
  })
  await expect(entry).toContainText('round trip')
  // The relation filter keeps it in the URL.
  await page.getByLabel('Relation').selectOption('blocked')
  await expect(page).toHaveURL(/relation=blocked/)
  await expect(page.getByText('0 peers matching the filters')).toBeVisible()
  await page.getByLabel('Relation').selectOption('partner')
  await expect(card(page, 'lab-b')).toBeVisible()
  await check(page, 'peers-02-partner')
})

test('a user sees the peers without the administrators’ actions', async ({ browser }) => {
  const created = await call(a.url, tokenA, 'POST', '/auth/admin/users', {
    username: 'fed-user',
    display_name: 'Federation user',
    password: 'fed-user-password-42',
    groups: [],
  })
  expect(created.status).toBe(201)
  const ctx = await browser.newContext()
  try {
    const userPage = await ctx.newPage()
    await signIn(userPage, '/peers', 'fed-user', 'fed-user-password-42', a.url)
    await expect(userPage.getByRole('region', { name: 'This peer' }).locator('.fingerprint')).toHaveText((await self(a)).fingerprint)
    await expect(card(userPage, 'lab-b').locator('.state-partner')).toBeVisible()
    await expect(userPage.getByRole('region', { name: 'Add a peer by URL' })).toHaveCount(0)
    await expect(card(userPage, 'lab-b').getByRole('button')).toHaveCount(0)
    await expect(userPage.getByText('Only administrators add peers')).toBeVisible()
    await check(userPage, 'peers-03-user')
  } finally {
    await ctx.close()
  }
})

test('what a partner shares with partners is found by the search across partners, with its name', async () => {
  for (const [name, visibility] of [
    ['Lab B survey tiles', 'partners'],
    ['Lab B private notes', 'private'],
  ]) {
    const r = await call(b.url, tokenB, 'POST', '/catalog/resources', { kind: 'data', name, visibility, tags: ['federation'], data: { location: 's3://lab-b/tiles' } })
    expect(r.status, JSON.stringify(r.data)).toBe(201)
  }
  const own = await call(a.url, tokenA, 'POST', '/catalog/resources', { kind: 'data', name: 'Lab A maps', visibility: 'partners', tags: ['federation'], data: { location: 's3://lab-a/maps' } })
  expect(own.status).toBe(201)

  await page.goto(`${a.url}/resources?q=lab`)
  await expect(page.getByRole('link', { name: 'Lab A maps' })).toBeVisible()
  await expect(page.getByRole('link', { name: 'Lab B survey tiles' })).toHaveCount(0)

  // The facets follow the URL, which the click changes: clicked, then checked.
  await page.getByRole('checkbox', { name: 'Search partners too' }).click()
  await expect(page.getByRole('checkbox', { name: 'Search partners too' })).toBeChecked()
  await expect(page).toHaveURL(/partners=1/)
  const tiles = page.getByRole('listitem').filter({ has: page.getByRole('link', { name: 'Lab B survey tiles' }) })
  await expect(tiles).toContainText('from lab-b')
  await expect(page.getByRole('listitem').filter({ has: page.getByRole('link', { name: 'Lab A maps' }) })).toContainText('this peer (lab-a)')
  await expect(page.getByRole('link', { name: 'Lab B private notes' })).toHaveCount(0)
  const strip = page.getByRole('list', { name: 'How each peer answered' })
  await expect(strip.getByRole('listitem').filter({ hasText: 'lab-b' })).toContainText(/answered in [\d.]+ m?s: 1 result/)
  await expect(strip.getByRole('listitem').filter({ hasText: 'lab-a' })).toContainText('answered')
  await expect(page.getByText('Partial results')).toHaveCount(0)
  await check(page, 'catalog-01-partners')

  // The peer filter asks lab-b only.
  await page.getByRole('checkbox', { name: /^lab-b/ }).click()
  await expect(page.getByRole('checkbox', { name: /^lab-b/ })).toBeChecked()
  await expect(page).toHaveURL(new RegExp(`peer=${(await self(b)).doc.id}`))
  await expect(page.getByRole('link', { name: 'Lab A maps' })).toHaveCount(0)
  await expect(page.getByRole('link', { name: 'Lab B survey tiles' })).toBeVisible()

  // The partner's resource, read through this peer.
  await page.getByRole('link', { name: 'Lab B survey tiles' }).click()
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Lab B survey tiles')
  await expect(page.getByText('A partner’s resource')).toBeVisible()
  await expect(page.getByRole('button', { name: 'Delete' })).toHaveCount(0)
})

test('a stopped partner is shown offline in the search at once, and the results marked partial', async () => {
  await stopTracked(b)
  const t0 = Date.now()
  await page.goto(`${a.url}/resources?q=lab&partners=1`)
  await expect(page.getByText('Partial results')).toBeVisible({ timeout: 5000 })
  const took = Date.now() - t0
  const strip = page.getByRole('list', { name: 'How each peer answered' })
  await expect(strip.getByRole('listitem').filter({ hasText: 'lab-b' })).toContainText(/offline|timed out/)
  await expect(page.getByRole('status').filter({ hasText: 'Partial results' })).toContainText('no answer from lab-b')
  await expect(page.getByRole('link', { name: 'Lab A maps' })).toBeVisible()
  await expect(page.getByRole('link', { name: 'Lab B survey tiles' })).toHaveCount(0)
  expect(took, 'the search waits on a stopped partner').toBeLessThan(5000)
  await check(page, 'catalog-02-partial')

  // The heartbeats find it offline too.
  await page.goto(`${a.url}/peers`)
  await eventually(page, async () => {
    await expect(card(page, 'lab-b').locator('.state-offline')).toBeVisible({ timeout: 1000 })
  })
  await check(page, 'peers-04-offline')
})

test('the administrator edits a peer’s groups, blocks, unblocks and removes it, confirming what cuts it off', async () => {
  await page.goto(`${a.url}/peers`)
  const entry = card(page, 'lab-b')
  await entry.getByRole('button', { name: 'Edit groups' }).click()
  const groups = entry.getByRole('textbox', { name: 'Groups of lab-b' })
  await groups.fill('eu-labs, Not A Group!')
  await entry.getByRole('button', { name: 'Save groups' }).click()
  await expect(entry.getByRole('alert')).toContainText('is not a group name')
  await groups.fill('eu-labs, hpc')
  await entry.getByRole('button', { name: 'Save groups' }).click()
  await expect(groups).toHaveCount(0)
  await expect(entry.locator('.tag')).toHaveText(['eu-labs', 'hpc'])
  await page.getByLabel('Group', { exact: true }).fill('hpc')
  await page.getByRole('button', { name: 'Filter' }).click()
  await expect(page).toHaveURL(/group=hpc/)
  await expect(entry).toBeVisible()
  await page.getByLabel('Group', { exact: true }).fill('nobody')
  await page.getByRole('button', { name: 'Filter' }).click()
  await expect(entry).toHaveCount(0)
  await page.goto(`${a.url}/peers`)

  // A confirmation declined changes nothing.
  page.once('dialog', (d) => void d.dismiss())
  await entry.getByRole('button', { name: 'Block' }).click()
  await expect(entry.locator('.state-partner')).toBeVisible()

  page.once('dialog', (d) => {
    expect(d.message()).toContain('Block lab-b?')
    void d.accept()
  })
  await entry.getByRole('button', { name: 'Block' }).click()
  await expect(entry.locator('.state-blocked')).toBeVisible()
  await expect(entry.getByRole('button', { name: 'Ask for partnership' })).toHaveCount(0)

  page.once('dialog', (d) => void d.accept())
  await entry.getByRole('button', { name: 'Unblock' }).click()
  await expect(entry.locator('.state-known')).toBeVisible()
  await expect(entry.getByRole('button', { name: 'Ask for partnership' })).toBeEnabled()
  await check(page, 'peers-05-unblocked')

  page.once('dialog', (d) => {
    expect(d.message()).toContain('Remove lab-b?')
    void d.accept()
  })
  await entry.getByRole('button', { name: 'Remove' }).click()
  await expect(entry).toHaveCount(0)
  await expect(page.getByText('0 peers')).toBeVisible()
})
