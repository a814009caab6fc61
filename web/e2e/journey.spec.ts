// A user's whole journey, in a real browser against the real peer: sign in
// through oc-auth's login page, create resources, gather them in a
// workspace, draw a three-step workflow and fix the problem the editor
// shows on a node, book it into a held slot and take the next free one,
// watch it run on the test cluster, cancel another. Every page visited is
// checked with axe and saved as a screenshot.

import { expect, test, type Page } from '@playwright/test'
import { check, url } from './helpers'
import { compute, peer } from './peer'

test.describe.configure({ mode: 'serial' })

let page: Page
const clusterOn = () => !!peer().kubeconfig

test.beforeAll(async ({ browser }) => {
  page = await (await browser.newContext()).newPage()
})

test.afterAll(async () => {
  await page.context().close()
})

/** localInput is the value of a datetime-local input for an instant. */
function localInput(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0')
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`
}

test('sign in through the login page of oc-auth', async () => {
  await page.goto(url('/resources?kind=processing'))
  await check(page, '00-sign-in')
  await page.getByRole('button', { name: 'Sign in' }).click()
  // oc-auth's own page, not the app's.
  await expect(page).toHaveURL(/\/auth\/login/)
  await page.getByLabel('User name').fill('admin')
  await page.getByLabel('Password').fill('not the password')
  await page.getByRole('button', { name: 'Sign in' }).click()
  await expect(page.getByRole('alert')).toBeVisible()
  await page.getByLabel('Password').fill((await import('./peer')).ADMIN_PASSWORD)
  await page.getByRole('button', { name: 'Sign in' }).click()
  // Back where the user was going, filters and all.
  await expect(page.getByText('Signed in as')).toContainText('admin')
  await expect(page).toHaveURL(/\/resources\?kind=processing$/)
  await expect(page.getByRole('checkbox', { name: /^processing/ })).toBeChecked()
  await page.goto(url('/'))
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Welcome, Administrator')
  await check(page, '01-dashboard')
})

test('a resource form shows the server’s problems next to the fields, then creates', async () => {
  await page.getByRole('link', { name: 'Catalog' }).click()
  await page.getByRole('link', { name: 'New resource' }).click()
  await page.getByLabel('Kind').selectOption('processing')
  await page.getByLabel('Name').fill('Echo')
  await page.getByLabel('Container image').fill('not an image!')
  await page.getByLabel('Tags').fill('e2e, Bad Tag')
  await page.getByRole('button', { name: 'Create resource' }).click()
  const image = page.getByLabel('Container image')
  await expect(image).toHaveAttribute('aria-invalid', 'true')
  await expect(page.locator('.field', { has: image }).locator('.error')).toContainText('container image reference')
  await expect(page.locator('.field', { has: page.getByLabel('Tags') }).locator('.error')).toBeVisible()
  await check(page, '02-resource-form-errors')

  // The image the test cluster's real node holds (it pulls none); kwok's
  // fake nodes never pull either.
  await image.fill('opencloud.local/busybox:1')
  await page.getByLabel('Tags').fill('e2e')
  await page.getByLabel('Visibility').selectOption('public')
  await page.getByLabel('Command').fill('sh\n-c\necho "hello from $HOSTNAME"; sleep 1; echo done')
  await page.getByLabel('Its source code is published').check()
  await page.getByRole('button', { name: 'Create resource' }).click()
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Echo')
  await expect(page.getByText('opencloud.local/busybox:1')).toBeVisible()
  await check(page, '03-resource-page')

  // A compute declaring no capacity runs one execution at a time.
  await page.goto(url('/resources/new'))
  await page.getByLabel('Kind').selectOption('compute')
  await page.getByLabel('Name').fill('E2E node')
  await page.getByLabel('Cluster').fill('local')
  await page.getByLabel('Architecture').selectOption('amd64')
  await page.getByLabel('Node selector').fill(compute.selector)
  await page.getByLabel('Tags').fill('e2e')
  await page.getByRole('button', { name: 'Create resource' }).click()
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('E2E node')
})

test('the catalog keeps its filters in the URL', async () => {
  await page.goto(url('/resources'))
  await page.getByRole('checkbox', { name: /^compute/ }).check()
  await expect(page).toHaveURL(/kind=compute/)
  await expect(page.getByRole('link', { name: 'E2E node' })).toBeVisible()
  await expect(page.getByRole('link', { name: 'Echo' })).toHaveCount(0)
  await page.getByRole('searchbox', { name: 'Search the catalog' }).fill('echo')
  await page.getByRole('button', { name: 'Search', exact: true }).click()
  await expect(page).toHaveURL(/q=echo/)
  await page.getByRole('checkbox', { name: /^compute/ }).uncheck()
  await expect(page.getByRole('link', { name: 'Echo' })).toBeVisible()
  await page.reload()
  await expect(page.getByRole('searchbox', { name: 'Search the catalog' })).toHaveValue('echo')
  await expect(page.getByRole('link', { name: 'Echo' })).toBeVisible()
  await expect(page.getByRole('link', { name: 'E2E node' })).toHaveCount(0)
  await check(page, '04-catalog')
})

test('a workspace gathers resources from the catalog', async () => {
  await page.goto(url('/workspaces'))
  await page.getByLabel('Name').fill('E2E bench')
  await page.getByRole('button', { name: 'Create' }).click()
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('E2E bench')
  await page.getByRole('searchbox', { name: 'Search the catalog' }).fill('e2e')
  await page.getByRole('button', { name: 'Search' }).click()
  await page.getByRole('button', { name: 'Add Echo' }).click()
  await page.getByRole('button', { name: 'Add E2E node' }).click()
  const table = page.getByRole('table')
  await expect(table.getByRole('row')).toHaveCount(3)
  await expect(table).toContainText('✓ available')
  await check(page, '05-workspace')
  await page.goto(url('/workspaces'))
  await check(page, '06-workspaces')
})

const node = (id: string) => page.locator(`.react-flow__node[data-id="${id}"]`)

test('the editor draws a three-step workflow and shows a problem on the node it concerns', async () => {
  await page.goto(url('/workflows'))
  await page.getByLabel('Name').fill('three-steps')
  await page.getByRole('button', { name: 'Create and open the editor' }).click()
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('three-steps')
  await expect(page.getByLabel('Workspace')).toHaveValue(/.+/)

  // One step dragged from the workspace onto the canvas, the others added with the keyboard's button.
  const canvas = page.locator('.react-flow__pane')
  await page.locator('.palette li', { hasText: 'Echo' }).dragTo(canvas, { targetPosition: { x: 120, y: 120 } })
  await expect(node('echo')).toBeVisible()
  await page.getByRole('button', { name: 'Add Echo to the graph' }).click()
  await page.getByRole('button', { name: 'Add Echo to the graph' }).click()
  await page.getByRole('button', { name: 'Add E2E node to the graph' }).click()
  for (const id of ['echo', 'echo-2', 'echo-3', 'e2e-node']) await expect(node(id)).toBeVisible()

  // A compute takes links, it gives none: the editor offers none from it.
  await node('e2e-node').click()
  await expect(page.getByText('No node can take a link from a compute.')).toBeVisible()

  const linkTo = async (from: string, to: string) => {
    await node(from).click()
    await page.getByLabel('Link to').selectOption(to)
    await page.getByRole('button', { name: 'Link', exact: true }).click()
  }
  await linkTo('echo', 'echo-2')
  await linkTo('echo-2', 'echo-3')
  await linkTo('echo', 'e2e-node')
  await page.getByRole('button', { name: 'Auto-layout' }).click()
  // One link drawn with the mouse, from a handle to a handle.
  await page.waitForTimeout(500) // the view's move after the layout
  const from = await node('echo-2').locator('.react-flow__handle.source').boundingBox()
  const to = await node('e2e-node').locator('.react-flow__handle.target').boundingBox()
  if (!from || !to) throw new Error('handles not drawn')
  await page.mouse.move(from.x + from.width / 2, from.y + from.height / 2)
  await page.mouse.down()
  await page.mouse.move(to.x + to.width / 2, to.y + to.height / 2, { steps: 12 })
  await page.mouse.up()
  await expect(page.locator('.react-flow__edge')).toHaveCount(4)
  await page.getByRole('button', { name: 'Auto-layout' }).click()

  // echo-3 runs nowhere: oc-workflow says so, on that very node.
  await expect(node('echo-3')).toContainText('⚠')
  await expect(node('echo-3')).toContainText('compute')
  await expect(node('echo-2')).not.toContainText('⚠')
  await expect(page.getByRole('status').filter({ hasText: 'problem' })).toContainText('⚠ 1 problem')
  await check(page, '07-editor-problem')
  // The panel lists it; a click takes the keyboard to the node.
  await page.locator('.problems button', { hasText: 'echo-3' }).click()
  await expect(node('echo-3')).toBeFocused()

  await linkTo('echo-3', 'e2e-node')
  await expect(node('echo-3')).not.toContainText('⚠')
  await expect(page.getByText('✓ No problem')).toBeVisible()
  // Undo brings the problem back, redo fixes it again.
  await page.getByRole('button', { name: 'Undo' }).click()
  await expect(node('echo-3')).toContainText('⚠')
  await page.getByRole('button', { name: 'Redo' }).click()
  await expect(node('echo-3')).not.toContainText('⚠')

  await page.getByRole('button', { name: 'Save' }).click()
  await expect(page.getByText(/Saved \(version \d+\)/)).toBeVisible()
  await check(page, '08-editor-valid')
  // The graph is stored: a reload draws it again.
  await page.reload()
  await expect(page.locator('.react-flow__edge')).toHaveCount(5)
  await expect(page.getByText('✓ No problem')).toBeVisible()

  // With the keyboard: select a node, delete it, undo.
  await node('echo-3').focus()
  await page.keyboard.press('Enter')
  await page.keyboard.press('Delete')
  await expect(node('echo-3')).toHaveCount(0)
  await expect(page.locator('.react-flow__edge')).toHaveCount(3)
  await page.keyboard.press('Control+z')
  await expect(node('echo-3')).toBeVisible()
  await expect(page.locator('.react-flow__edge')).toHaveCount(5)
  await expect(page.getByText('Saved. ✓ valid')).toBeVisible()
})

let held = ''
let next = ''

test('booking: a held slot is a conflict, the next free slot is taken', async () => {
  await page.getByRole('link', { name: 'Book…' }).click()
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Book three-steps')
  const start = new Date(Date.now() + 25_000)
  start.setMilliseconds(0)
  await page.getByLabel(/^Start/).fill(localInput(start))
  await page.getByLabel(/^End/).fill(localInput(new Date(start.getTime() + 60_000)))
  await page.getByLabel('Duration of one execution (seconds)').fill('15')
  await page.getByLabel(/Run at every firing/).check()
  await page.getByRole('button', { name: 'Once, at the start' }).click()
  await expect(page.locator('p', { hasText: 'Reads:' })).toContainText('(UTC)')
  await expect(page.locator('ol time')).toHaveCount(1)
  await check(page, '09-booking-form')
  await page.getByRole('button', { name: 'Book', exact: true }).click()
  await expect(page.getByRole('heading', { name: 'Booked' })).toBeVisible()
  held = (await page.getByRole('link', { name: 'three-steps' }).first().getAttribute('href')) ?? ''
  expect(held).toMatch(/^\/executions\//)

  // The same slot again: the compute is held.
  await page.getByRole('button', { name: 'Check availability' }).click()
  await expect(page.getByRole('heading', { name: 'Not free' })).toBeVisible()
  const conflicts = page.getByRole('table', { name: 'Conflicts, per resource' })
  await expect(conflicts).toContainText('E2E node')
  await expect(page.getByText('Next free slot:')).toBeVisible()
  await check(page, '10-booking-conflict')
  await page.getByRole('button', { name: 'Book at the next free slot' }).click()
  await expect(page.getByRole('heading', { name: 'Booked' })).toBeVisible()
  next = (await page.getByRole('link', { name: 'three-steps' }).first().getAttribute('href')) ?? ''
  expect(next).toMatch(/^\/executions\//)
  expect(next).not.toBe(held)
})

test('cancel the held execution', async () => {
  await page.goto(url(held))
  await expect(page.getByText('State:')).toBeVisible()
  page.once('dialog', (d) => void d.accept())
  await page.getByRole('button', { name: /Cancel execution/ }).click()
  await expect(page.locator('.panel .state').first()).toHaveText(/cancelled/)
  await check(page, '11-execution-cancelled')
})

test('watch the other run on the cluster: its steps change colour, to succeeded', async () => {
  test.skip(!clusterOn(), 'no test cluster (OC_E2E_CLUSTER=off)')
  await page.goto(url(next))
  // Every state a step shows is noted as it comes.
  await page.evaluate(() => {
    const seen: string[] = []
    ;(window as unknown as { seen: string[] }).seen = seen
    const note = () =>
      document.querySelectorAll('.react-flow__node .state').forEach((el) => {
        const s = `${el.closest('.react-flow__node')?.getAttribute('data-id')}:${el.textContent?.replace(/[^a-z]/g, '')}`
        if (!seen.includes(s)) seen.push(s)
      })
    new MutationObserver(note).observe(document.body, { subtree: true, childList: true, characterData: true })
    note()
  })
  await expect(page.locator('.panel .state').first()).toHaveText(/succeeded/, { timeout: 150_000 })
  for (const id of ['echo', 'echo-2', 'echo-3']) {
    await expect(page.getByTestId(`step-${id}`)).toContainText('succeeded')
    await expect(node(id).locator('.flow-node')).toHaveClass(/state-node-succeeded/)
  }
  const seen = await page.evaluate(() => (window as unknown as { seen: string[] }).seen)
  // The steps were seen on their way: pending or running before they succeeded.
  expect(seen.filter((s) => /:(pending|running)$/.test(s)).length, seen.join(' ')).toBeGreaterThan(0)
  expect(seen.filter((s) => s.endsWith(':succeeded')).length, seen.join(' ')).toBe(3)
  if (compute.logs) {
    await page.getByLabel('Step', { exact: true }).selectOption('echo')
    await expect(page.getByTestId('logs')).toContainText('hello from')
  }
  await check(page, '12-execution-succeeded')
})

test('executions: filtered in the URL, and a calendar', async () => {
  await page.goto(url('/executions'))
  await page.getByRole('checkbox', { name: /cancelled/ }).check()
  await expect(page).toHaveURL(/state=cancelled/)
  await expect(page.getByRole('table')).toContainText('cancelled')
  await expect(page.getByRole('table').getByRole('row')).toHaveCount(2)
  await check(page, '13-executions')
  await page.reload()
  await expect(page.getByRole('checkbox', { name: /cancelled/ })).toBeChecked()
  await page.getByRole('button', { name: 'Calendar' }).click()
  await expect(page.getByRole('grid')).toContainText('three-steps')
  await check(page, '14-calendar')
  await page.goto(url('/'))
  await expect(page.getByRole('region', { name: /Running now/ })).toBeVisible()
  if (!clusterOn()) await expect(page.getByRole('region', { name: 'Next bookings' })).toContainText('three-steps')
  await check(page, '15-dashboard-after')
})

test('a collaborative area: rules, a shared workflow, violations, history', async () => {
  await page.goto(url('/areas'))
  await page.getByLabel('Name').fill('E2E consortium')
  await page.getByRole('button', { name: 'Create area' }).click()
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('E2E consortium')
  await page.getByLabel('Rule', { exact: true }).selectOption('open_source_processings')
  await page.getByRole('button', { name: 'Add rule' }).click()
  await page.getByRole('button', { name: 'Save the rule book' }).click()
  await expect(page.getByRole('region', { name: 'Rule book' })).toContainText('Only open-source processings')
  await page.getByLabel('Share a').selectOption('workflow')
  await page.getByLabel('Item to share').selectOption({ label: 'three-steps' })
  await page.getByRole('button', { name: 'Share', exact: true }).click()
  await expect(page.getByRole('region', { name: 'Shared in this area' })).toContainText('three-steps')
  await page.getByRole('button', { name: 'Check now' }).click()
  await expect(page.getByText('✓ Nothing breaks the rules.')).toBeVisible()
  await expect(page.getByRole('region', { name: 'History' })).toContainText('item shared')
  await check(page, '16-area')
  await page.goto(url('/areas'))
  await check(page, '17-areas')
})

test('peers, the datacenter and its nodes published as computes', async () => {
  await page.goto(url('/peers'))
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Peers')
  await check(page, '18-peers')
  await page.goto(url('/nodes'))
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Datacenter')
  if (clusterOn()) {
    await expect(page.getByRole('table')).toContainText('node-1')
    await page.getByRole('button', { name: 'Publish' }).click()
    await expect(page.getByRole('status').filter({ hasText: 'created' })).toContainText(/\d+ created/)
  }
  await check(page, '19-datacenter')
})

test('administration: users, groups, clients', async () => {
  await page.goto(url('/admin'))
  await expect(page).toHaveURL(/\/admin\/users$/)
  await page.getByLabel('User name').fill('alice')
  await page.getByLabel('Password').fill('short')
  await page.getByRole('button', { name: 'Create user' }).click()
  await expect(page.locator('.field', { has: page.getByLabel('Password') }).locator('.error')).toBeVisible()
  await page.getByLabel('Password').fill('alice-password-123')
  await page.getByRole('button', { name: 'Create user' }).click()
  await expect(page.getByRole('table')).toContainText('alice')
  await check(page, '20-admin-users')
  await page.getByRole('link', { name: 'Groups' }).click()
  await expect(page.getByText('admin', { exact: true })).toBeVisible()
  await check(page, '21-admin-groups')
  await page.getByRole('link', { name: 'Clients' }).click()
  await expect(page.getByRole('table')).toContainText('opencloud-web')
  await check(page, '22-admin-clients')
})

test('the workflows list, and sign out', async () => {
  await page.goto(url('/workflows'))
  await expect(page.getByRole('link', { name: 'three-steps', exact: true })).toBeVisible()
  await check(page, '23-workflows')
  await page.getByRole('button', { name: 'Sign out' }).click()
  await expect(page.getByRole('button', { name: 'Sign in' })).toBeVisible()
  // Signed out at oc-auth too: signing in asks for the password again.
  await page.getByRole('button', { name: 'Sign in' }).click()
  await expect(page.getByLabel('User name')).toBeVisible()
})
