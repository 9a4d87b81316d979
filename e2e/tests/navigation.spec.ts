// The grouped navigation at a desktop width and a narrow one: every section opens from it and
// nothing on any page overflows its card. Then a job that fails shows one readable sentence
// with the provider's words behind "Details", and is cancelled and retried from its own row.
import { Page } from '@playwright/test';
import { adminPassword, expect, overflows, shot, signInAdmin, test } from './support';

// Every section a platform admin who owns a tenant reaches from the navigation.
const sections: [group: string, link: string, heading: RegExp][] = [
  ['', 'Overview', /.+/],
  ['Resources', 'Zones', /^Zones$/],
  ['Resources', 'Instance groups', /^Instance groups$/],
  ['Resources', 'Databases', /^Databases$/],
  ['Operations', 'Jobs', /^Jobs$/],
  ['Operations', 'Audit log', /^Audit log$/],
  ['Settings', 'Members', /^Members$/],
  ['Settings', 'Cloud accounts', /^Cloud accounts$/],
  ['Settings', 'Secrets', /^Secrets$/],
  ['Settings', 'API keys', /^API keys$/],
  ['Admin console', 'Overview', /^Overview$/],
  ['Admin console', 'Tenants', /^Tenants$/],
  ['Admin console', 'Users', /^Users$/],
  ['Admin console', 'Queue', /^Queue$/],
  ['Admin console', 'Audit', /^Audit$/],
];

async function openSection(page: Page, group: string, link: string, narrow: boolean) {
  const nav = page.getByRole('navigation', { name: 'Main' });
  if (narrow) {
    // Collapsed behind the Menu button below 960 px.
    await expect(nav).toBeHidden();
    await page.getByRole('button', { name: 'Menu' }).click();
    await expect(page.getByRole('button', { name: 'Menu' })).toHaveAttribute('aria-expanded', 'true');
  }
  await expect(nav).toBeVisible();
  const area = group
    ? nav.locator('.nav-group').filter({ has: page.getByText(group, { exact: true }) })
    : nav.locator('.nav-top');
  await area.getByRole('link', { name: link, exact: false }).first().click();
}

for (const [width, narrow] of [[1280, false], [800, true]] as const) {
  test(`every section opens from the navigation at ${width} px and nothing overflows its card`, async ({ page }) => {
    test.skip(!adminPassword, 'E2E_ADMIN_PASSWORD is not set (scripts/test sets it)');
    await page.setViewportSize({ width, height: 900 });
    await signInAdmin(page);
    await page.waitForLoadState('networkidle');
    // The tenant switcher (or the current tenant's name) stays in the top bar.
    await expect(page.locator('.topbar .tenant-current')).toBeVisible();
    for (const [group, link, heading] of sections) {
      await openSection(page, group, link, narrow);
      await expect(page.getByRole('heading', { level: 1, name: heading })).toBeVisible();
      await expect(page.locator('.loading')).toHaveCount(0);
      if (narrow) await expect(page.getByRole('navigation', { name: 'Main' })).toBeHidden();
      expect(await overflows(page), `${group} / ${link} at ${width} px`).toEqual([]);
      await shot(page, `nav-${width}-${(group || 'tenant').replace(/\s/g, '-')}-${link.replace(/\s/g, '-')}`.toLowerCase());
    }
  });
}

test('a failed job reads as one sentence, and is cancelled and retried from its row', async ({ page }) => {
  test.skip(!adminPassword, 'E2E_ADMIN_PASSWORD is not set (scripts/test sets it)');
  await page.setViewportSize({ width: 1280, height: 900 });
  await signInAdmin(page);
  page.on('dialog', (dialog) => dialog.accept());

  // An account whose endpoint refuses connections: its zone survey fails on every attempt.
  await page.goto('/cloud-accounts', { waitUntil: 'networkidle' });
  const name = `Closed port ${Date.now()}`;
  const form = page.getByRole('form', { name: 'Add a cloud account' });
  await form.getByLabel('Name').fill(name);
  await form.getByLabel('Region').fill('us-east-1');
  await form.getByLabel('Endpoint URL (optional)').fill('http://127.0.0.1:9');
  await form.getByLabel('Access key id').fill('AKIAIOSFODNN7EXAMPLE');
  await form.getByLabel('Secret access key').fill('not-a-secret');
  await form.getByRole('button', { name: 'Add account' }).click();
  await page.getByRole('button', { name: `Survey zones of ${name}` }).click();
  await expect(page).toHaveURL(/\/jobs\/\d+$/);
  const jobId = page.url().split('/').pop()!;

  // One readable sentence; the provider's words verbatim behind "Details".
  const error = page.locator('.readable-error');
  await expect(error.locator('.error-summary')).toHaveText(/could not connect to .+: connection refused/, { timeout: 30_000 });
  const verbatim = error.locator('pre.error-text');
  await expect(verbatim).toBeHidden();
  await error.getByText('Details').click();
  await expect(verbatim).toBeVisible();
  await expect(verbatim).toContainText(/dispatch failure/i);
  await expect(verbatim).toContainText(/connection refused/i);
  // The timeline says the same, one sentence per failed attempt, the dump behind its own "Details".
  const attempt = page.locator('.events .event-message', {
    hasText: /^attempt 1 of \d+ failed, retrying: could not connect to .+: connection refused/,
  });
  await expect(attempt).toBeVisible();
  await expect(attempt.locator('pre.error-text')).toBeHidden();
  await shot(page, 'job-readable-error');

  // Cancel from the job's own row on the Jobs page (confirmed), then retry it from there.
  await page.goto('/jobs', { waitUntil: 'networkidle' });
  const row = page.getByRole('row', { name: new RegExp(`#${jobId}\\b`) });
  await row.getByRole('button', { name: `Cancel job ${jobId}` }).click();
  await expect(row.getByText('cancelled', { exact: true })).toBeVisible({ timeout: 30_000 });
  await row.getByRole('button', { name: `Retry job ${jobId}` }).click();
  await expect(row.getByText(/^(queued|running|failed)$/)).toBeVisible({ timeout: 30_000 });
  await shot(page, 'jobs-row-controls');
});
