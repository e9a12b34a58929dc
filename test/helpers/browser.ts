/**
 * A real browser for the web view's tests: Debian's chromium (/usr/bin/chromium, apt package
 * `chromium`) driven by playwright-core. Never a downloaded browser. WebGL runs on SwiftShader
 * (software), which headless chromium uses when there is no GPU.
 */
import { existsSync } from 'node:fs'
import type { Browser, ConsoleMessage, Page } from 'playwright-core'

export const CHROMIUM = process.env.ASSIST_CHROMIUM ?? '/usr/bin/chromium'

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: apt-get install -y chromium`)
  const { chromium } = await import('playwright-core')
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      // Software WebGL without the "automatic fallback is deprecated" console warning.
      '--enable-unsafe-swiftshader',
    ],
  })
}

/**
 * A page that records console errors and uncaught exceptions; `beforeLoad` runs on it before it
 * loads `url` (to watch its requests from the first).
 */
export async function openPage(
  browser: Browser,
  url: string,
  viewport = { width: 1280, height: 800 },
  beforeLoad?: (page: Page) => void,
): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport })
  const errors: string[] = []
  page.on('console', (m: ConsoleMessage) => {
    if (m.type() === 'error') errors.push(m.text())
  })
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`))
  beforeLoad?.(page)
  await page.goto(url)
  return { page, errors }
}
