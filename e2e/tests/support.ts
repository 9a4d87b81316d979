// Helpers shared by the spec files: signing in, and a small authenticator app for the
// two-factor step that platform admins must enrol at their first sign-in.
import { test as base, expect, Browser, BrowserContext, Page } from '@playwright/test';
import { createHmac } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * The spec files' `test`: it fails a test whose pages threw in the browser, and its pages'
 * `goto` waits until the browser app has hydrated the page. A hydration
 * mismatch panics the browser app, after which forms post without it and nothing is live; the
 * test would otherwise fail later with a misleading symptom, or not at all.
 */
export const test = base.extend<{ pageErrors: void }>({
  pageErrors: [async ({ browser, context }, use) => {
    const errors: string[] = [];
    const watch = (ctx: BrowserContext) =>
      ctx.on('page', (p) => {
        p.on('pageerror', (e) => errors.push(`${p.url()}: ${e.message}`));
        // The browser app hydrates after the first paint: a page load is done for a test when
        // the app has taken over (`data-hydrated` on <html>), so clicks reach its handlers.
        const goto = p.goto.bind(p);
        p.goto = async (...args) => {
          const response = await goto(...args);
          await hydrated(p);
          return response;
        };
        const reload = p.reload.bind(p);
        p.reload = async (...args) => {
          const response = await reload(...args);
          await hydrated(p);
          return response;
        };
      });
    watch(context);
    const newContext = browser.newContext.bind(browser);
    (browser as Browser).newContext = async (...args) => {
      const ctx = await newContext(...args);
      watch(ctx);
      return ctx;
    };
    await use();
    browser.newContext = newContext;
    expect(errors, 'errors thrown in the browser').toEqual([]);
  }, { auto: true }],
});
export { expect };

/** Waits until the browser app has hydrated the page (after a load or a form post). */
export async function hydrated(page: Page) {
  await page.locator('html[data-hydrated]').waitFor({ state: 'attached' });
}

export const adminEmail = process.env.E2E_ADMIN_EMAIL ?? 'admin@stratus.local';
export const adminPassword = process.env.E2E_ADMIN_PASSWORD ?? '';

// The admin enrols once per server, and spec files may run in separate worker processes, so
// the admin's authenticator lives in a file (scripts/test gives each run a fresh folder).
const stateDir = process.env.E2E_STATE_DIR
  ?? join(tmpdir(), `stratus-e2e-${new URL(process.env.E2E_BASE_URL ?? 'http://127.0.0.1:3000').port}`);
const adminState = join(stateDir, 'admin-authenticator.json');
const adminSession = join(stateDir, 'admin-session.json');

export async function signIn(page: Page, email: string, password: string) {
  await page.goto('/login', { waitUntil: 'networkidle' });
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/\/$/);
  await hydrated(page);
}

// RFC 6238: SHA-1, 6 digits, 30-second steps.
function base32Decode(key: string): Buffer {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of key.replace(/[\s=]/g, '').toUpperCase()) {
    bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  }
  const bytes = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(parseInt(bits.slice(i, i + 8), 2));
  return Buffer.from(bytes);
}

function totp(key: string, step: number): string {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac('sha1', base32Decode(key)).update(counter).digest();
  const offset = mac[mac.length - 1] & 0xf;
  const value = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return value.toString().padStart(6, '0');
}

/** An authenticator that never offers a step twice (Stratus refuses replayed codes). */
export class Authenticator {
  lastCode = '';
  constructor(readonly key: string, private last = 0, private readonly stateFile?: string) {}
  codeAt(step: number) { return totp(this.key, step); }
  async next(): Promise<string> {
    for (;;) {
      const now = Math.floor(Date.now() / 30_000);
      const step = Math.max(now, this.last + 1);
      // The server accepts one step ahead of its clock; beyond that, wait.
      if (step <= now + 1) {
        this.last = step;
        this.lastCode = totp(this.key, step);
        this.save();
        return this.lastCode;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  save() {
    if (!this.stateFile) return;
    mkdirSync(stateDir, { recursive: true });
    writeFileSync(this.stateFile, JSON.stringify({ key: this.key, last: this.last }));
  }
  static load(stateFile: string): Authenticator | undefined {
    if (!existsSync(stateFile)) return undefined;
    const { key, last } = JSON.parse(readFileSync(stateFile, 'utf8'));
    return new Authenticator(key, last, stateFile);
  }
}

/** Full-page screenshots for review, when E2E_SCREENSHOTS names a folder. */
export async function shot(page: Page, name: string) {
  const dir = process.env.E2E_SCREENSHOTS;
  if (dir) await page.screenshot({ path: `${dir}/${name}.png`, fullPage: true });
}

/** Sets up the authenticator on /account/mfa (turning it on asks for the password again);
 * returns it and the recovery codes shown. */
export async function enrolMfa(page: Page, password: string, name = 'enrol', stateFile?: string): Promise<[Authenticator, string[]]> {
  await expect(page).toHaveURL(/\/account\/mfa$/);
  await hydrated(page); // so the form calls the server function
  await page.getByRole('button', { name: 'Set up an authenticator app' }).click();
  await expect(page.getByRole('img', { name: /QR code/ })).toBeVisible();
  await shot(page, `${name}-qr`);
  const key = (await page.locator('#manual-key').textContent()) ?? '';
  const authenticator = new Authenticator(key, 0, stateFile);
  await page.getByLabel('Code from the app').fill(await authenticator.next());
  await page.getByLabel('Your password').fill(password);
  await page.getByRole('button', { name: 'Turn on two-factor authentication' }).click();
  const codes = page.getByRole('list', { name: 'Recovery codes' }).getByRole('listitem');
  await expect(codes).toHaveCount(10);
  await shot(page, `${name}-recovery-codes`);
  return [authenticator, await codes.allTextContents()];
}

export async function signInWithCode(page: Page, email: string, password: string, authenticator: Authenticator) {
  await page.goto('/login', { waitUntil: 'networkidle' });
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/\/login\/mfa$/);
  await hydrated(page);
  await page.getByLabel('Authentication code').fill(await authenticator.next());
  await page.getByRole('button', { name: 'Verify' }).click();
  await expect(page).toHaveURL(/\/$/);
  await hydrated(page);
}

/** The first admin enrols at their first sign-in; afterwards they sign in with a code. The
 *  session is kept for the next test: Stratus refuses a code twice, so signing in at every test
 *  would wait up to 30 s for the authenticator's next step, counted against the test's timeout
 *  (a CI run timed out that way). A session that has ended (signed out) is replaced. */
export async function signInAdmin(page: Page) {
  if (existsSync(adminSession)) {
    await page.context().addCookies(JSON.parse(readFileSync(adminSession, 'utf8')));
    await page.goto('/');
    if (!new URL(page.url()).pathname.startsWith('/login')) return;
  }
  const authenticator = Authenticator.load(adminState);
  if (authenticator) {
    await signInWithCode(page, adminEmail, adminPassword, authenticator);
  } else {
    await page.goto('/login', { waitUntil: 'networkidle' });
    await page.getByLabel('Email').fill(adminEmail);
    await page.getByLabel('Password').fill(adminPassword);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await enrolMfa(page, adminPassword, 'enrol', adminState);
    await page.getByRole('link', { name: 'I have saved my recovery codes' }).click();
    await expect(page).toHaveURL(/\/$/);
    await hydrated(page);
  }
  mkdirSync(stateDir, { recursive: true });
  writeFileSync(adminSession, JSON.stringify(await page.context().cookies()));
}

/** Elements whose box leaves their card (.panel or .card), cards that scroll sideways, and a
 *  page wider than the window. Empty when everything fits. */
export async function overflows(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const name = (el: Element) =>
      `${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}.${[...el.classList].join('.')} "${(el.textContent ?? '').trim().slice(0, 40)}"`;
    const found: string[] = [];
    const root = document.documentElement;
    if (root.scrollWidth > root.clientWidth + 1) found.push(`the page is ${root.scrollWidth}px wide in a ${root.clientWidth}px window`);
    for (const card of document.querySelectorAll('.panel, .card')) {
      const box = card.getBoundingClientRect();
      if (box.width === 0) continue;
      if (card.scrollWidth > card.clientWidth + 1) found.push(`${name(card)} scrolls sideways (${card.scrollWidth} > ${card.clientWidth})`);
      for (const el of card.querySelectorAll('*')) {
        const r = el.getBoundingClientRect();
        if (r.width === 0 || r.height === 0 || el.closest('.sr-only')) continue;
        if (r.left < box.left - 1 || r.right > box.right + 1) {
          found.push(`${name(el)} [${Math.round(r.left)}, ${Math.round(r.right)}] leaves ${name(card)} [${Math.round(box.left)}, ${Math.round(box.right)}]`);
        }
      }
    }
    return found;
  });
}

/** A Ready zone of the sandbox account in `az`, created through its Review step unless the
 *  tenant has it already (a second run against the same server). */
export async function ensureZone(page: Page, name: string, az: string) {
  await page.goto('/zones');
  const link = page.getByRole('link', { name, exact: true });
  if (await link.count()) {
    await link.click();
  } else {
    await page.getByRole('link', { name: 'Create zone' }).click();
    await expect(page.getByRole('heading', { name: 'Create zone' })).toBeVisible();
    await page.getByLabel('Cloud account').selectOption({ label: 'Sandbox (emulated AWS) (us-east-1)' });
    await page.getByLabel('Name').fill(name);
    const field = page.getByLabel('Availability zone');
    if ((await field.evaluate((e) => e.tagName)) === 'SELECT') await field.selectOption(az);
    else await field.fill(az);
    await page.getByRole('button', { name: 'Review' }).click();
    await page.getByRole('button', { name: 'Create zone' }).click();
  }
  await expect(page).toHaveURL(/\/zones\/[0-9a-f-]{36}$/);
  await expect(page.locator('.page-header [data-status]')).toHaveText('ready', { timeout: 30_000 });
}

/** Deletes a zone through its Review step and waits until the list no longer has it. */
export async function deleteZone(page: Page, name: string) {
  await page.goto('/zones');
  await page.getByRole('link', { name, exact: true }).click();
  await expect(page.getByRole('heading', { level: 1, name })).toBeVisible();
  await page.getByRole('button', { name: 'Review deletion' }).click();
  await page.getByLabel("Type the zone's name to confirm").fill(name);
  await page.getByRole('button', { name: `Delete zone ${name}` }).click();
  await expect(page.getByText(/^Not found$/).or(page.locator('.page-header [data-status="deleting"]'))).toBeVisible();
  await page.getByRole('link', { name: 'Zones', exact: true }).first().click();
  await expect(page.getByRole('link', { name, exact: true })).toHaveCount(0, { timeout: 30_000 });
}
