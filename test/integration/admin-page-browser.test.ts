/**
 * The admin page in a real headless browser (Debian's chromium, driven by playwright-core):
 * a gateway with an admin token and two health-checked targets on a route. The page refuses
 * without the token and logs in with it; it shows the route's counter rising as requests
 * arrive, and a killed target as unhealthy; it fits a 375 px phone screen; the browser
 * reports no CSP violation and no script error.
 *
 * With ADMIN_PAGE_SCREENSHOT=<file.png> it also saves the page, 1000 px wide (docs/admin-page.png
 * is made this way). Skipped, saying so, when chromium is not installed.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { chromium, type Browser, type Page } from 'playwright-core'
import { startGateway, waitFor, type GatewayProcess } from '../fixtures/gateway.ts'
import { startRecordingUpstream, type RecordingUpstream } from '../fixtures/upstream.ts'

const CHROMIUM = process.env.CHROMIUM_PATH ?? Bun.which('chromium') ?? Bun.which('chromium-browser')
if (!CHROMIUM) console.warn('admin-page-browser: chromium is not installed (apt-get install chromium); the browser tests are skipped')

const TOKEN = 'the-admin-token-0123456789abcdef'
const SCREENSHOT = process.env.ADMIN_PAGE_SCREENSHOT

let a: RecordingUpstream
let b: RecordingUpstream
let gw: GatewayProcess
let browser: Browser
/** What the browser said about the pages: CSP violations, script errors. */
const complaints: string[] = []

async function open(width = 1000): Promise<Page> {
  const page = await browser.newPage({ viewport: { width, height: 800 } })
  page.on('console', (message) => {
    // The login form answers 401 by design; that is the only resource error expected.
    if (message.type() === 'error' && !message.text().includes('401')) complaints.push(message.text())
  })
  page.on('pageerror', (error) => complaints.push(error.message))
  return page
}

/** Opens the page through the login form, as a person would. */
async function logIn(width?: number): Promise<Page> {
  const page = await open(width)
  await page.goto(`http://127.0.0.1:${gw.adminPort}/`)
  await page.fill('input[name=token]', TOKEN)
  await Promise.all([page.waitForURL(`http://127.0.0.1:${gw.adminPort}/`), page.click('button[type=submit]')])
  await waitFor(async () => Number(await page.getAttribute('body', 'data-polls')) >= 1, 10_000, 'the first poll')
  return page
}

const cell = (page: Page, selector: string) => page.textContent(selector).then((text) => text?.trim() ?? '')
const routeCell = (page: Page, field: string) => cell(page, `tr[data-route="api"] td[data-field="${field}"]`)
const healthOf = (page: Page, origin: string) => cell(page, `[data-upstream="app"] tr[data-target="${origin}"] td[data-field="health"]`)

describe.skipIf(!CHROMIUM)('the admin page in chromium', () => {
  beforeAll(async () => {
    a = startRecordingUpstream()
    b = startRecordingUpstream()
    gw = await startGateway({
      server: { workers: 2 },
      admin: { bearerToken: TOKEN },
      upstreams: { app: { targets: [a.origin, b.origin], healthCheck: { path: '/health', intervalSeconds: 1, unhealthyThreshold: 1, timeoutMs: 500 } } },
      routes: [{ name: 'api', path: '/api', upstream: 'app' }],
    })
    // The page under test is the gateway's own; the sandbox cannot start as root (CI).
    browser = await chromium.launch({ executablePath: CHROMIUM!, args: ['--no-sandbox'] })
  })

  afterAll(async () => {
    await browser?.close()
    await gw?.stop()
    a?.stop()
    b?.stop()
  })

  test('without the token: the login form, no data, and the JSON refused', async () => {
    const page = await open()
    const response = await page.goto(`http://127.0.0.1:${gw.adminPort}/`)
    expect(response!.status()).toBe(401)
    expect(await page.isVisible('input[name=token]')).toBe(true)
    expect(await page.$('#routes')).toBeNull()
    expect(await page.evaluate(() => fetch('/status.json').then((r) => r.status))).toBe(401)
    await page.fill('input[name=token]', 'not-the-admin-token-000000')
    await page.click('button[type=submit]')
    await page.waitForSelector('text=That is not the admin token.')
    expect(await page.evaluate(() => fetch('/status.json').then((r) => r.status))).toBe(401)
    await page.close()
  }, 30_000)

  test('with the token: a route\'s counter rises on the page, and a killed target shows unhealthy', async () => {
    const page = await logIn()
    // The session cookie is HttpOnly: the page's script cannot read it.
    expect(await page.evaluate('document.cookie')).toBe('')
    expect(await healthOf(page, a.origin)).toBe('healthy')
    expect(await healthOf(page, b.origin)).toBe('healthy')
    const before = Number((await routeCell(page, 'requests')).replace(/,/g, ''))
    for (let i = 0; i < 20; i++) expect((await fetch(gw.url(`/api/${i}`))).status).toBe(200)
    await waitFor(async () => Number((await routeCell(page, 'requests')).replace(/,/g, '')) >= before + 20, 10_000, 'the counter on the page')
    await waitFor(async () => Number.parseFloat(await routeCell(page, 'rps')) > 0, 10_000, 'a request rate on the page')
    expect(await routeCell(page, 'p99')).toMatch(/^[\d.]+ ms$/)

    b.stop()
    await waitFor(async () => (await healthOf(page, b.origin)) === 'unhealthy', 15_000, 'the killed target shown unhealthy')
    expect(await healthOf(page, a.origin)).toBe('healthy')
    if (SCREENSHOT) {
      // Traffic on the route for the picture: the window then shows a rate and a p99.
      for (let i = 0; i < 40; i++) await fetch(gw.url(`/api/shot-${i}`))
      const polls = Number(await page.getAttribute('body', 'data-polls'))
      await waitFor(async () => Number(await page.getAttribute('body', 'data-polls')) >= polls + 2, 10_000, 'two more polls')
      await page.screenshot({ path: SCREENSHOT, fullPage: true })
    }
    await page.close()
  }, 60_000)

  test('fits a 375 px phone screen without sideways scrolling', async () => {
    const page = await logIn(375)
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(375)
    // Nor inside: every table fits its box (targets and workers stack on a narrow screen).
    const overflowing = await page.evaluate("[...document.querySelectorAll('.scroll')].filter((box) => box.scrollWidth > box.clientWidth).length")
    expect(overflowing).toBe(0)
    expect(await page.isVisible('tr[data-route="api"]')).toBe(true)
    await page.close()
  }, 30_000)

  test('the browser reported no CSP violation and no script error', () => {
    expect(complaints).toEqual([])
  })
})
