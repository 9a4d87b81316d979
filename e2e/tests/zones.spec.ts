import { adminPassword, expect, shot, signInAdmin, test } from './support';

test('a zone is created through its Review step and reaches Ready without a reload', async ({ browser }) => {
  test.skip(!adminPassword, 'E2E_ADMIN_PASSWORD is not set (scripts/test sets it)');
  const context = await browser.newContext();
  const page = await context.newPage();
  await signInAdmin(page);
  let loads = 0;
  page.on('load', () => loads++);

  await page.goto('/zones', { waitUntil: 'networkidle' });
  await expect(page.getByRole('heading', { name: 'Zones', exact: true })).toBeVisible();
  await page.getByRole('link', { name: 'Create zone' }).click();
  await expect(page.getByRole('heading', { name: 'Create zone' })).toBeVisible();
  await page.waitForLoadState('networkidle');

  // The sandbox account (other tests add accounts of their own).
  await page.getByLabel('Cloud account').selectOption({ label: 'Sandbox (emulated AWS) (us-east-1)' });
  // Bad input is explained beside the field, and nothing is created.
  await page.getByLabel('Name').fill('Web A');
  const az = page.getByLabel('Availability zone');
  const chooseZone = async (zone: string) => {
    if ((await az.evaluate((e) => e.tagName)) === 'SELECT') await az.selectOption(zone);
    else await az.fill(zone);
  };
  await chooseZone('us-east-1a');
  await page.getByRole('button', { name: 'Review' }).click();
  await expect(page.locator('#zone-name-error')).toContainText('lowercase letters');

  // The Review step shows the plan before anything happens.
  await page.getByLabel('Name').fill('web-a');
  await page.getByRole('button', { name: 'Review' }).click();
  const plan = page.getByRole('region', { name: 'Plan' });
  await expect(plan.getByRole('heading', { name: 'Review' })).toBeVisible();
  await expect(plan.locator('.change-create').filter({ hasText: 'VPC' })).toBeVisible();
  await expect(plan.locator('.change-create').filter({ hasText: 'subnet' })).toContainText('us-east-1a');
  await expect(plan.getByText(/zones quota: \d+ → \d+ of \d+/)).toBeVisible();
  await expect(plan.getByText(/Monthly cost/)).toBeVisible();
  await shot(page, 'zone-review');
  const loadsBefore = loads;
  await page.getByRole('button', { name: 'Create zone' }).click();

  // The zone's page follows the reconcile live until the zone is ready.
  await expect(page).toHaveURL(/\/zones\/[0-9a-f-]{36}$/);
  await expect(page.getByRole('heading', { name: 'web-a' })).toBeVisible();
  await expect(page.locator('.page-header [data-status]')).toHaveText('ready', { timeout: 30_000 });
  await expect(page.getByRole('row', { name: /^Ready True NetworkReady/ })).toBeVisible();
  await expect(page.getByText(/subnet-[0-9a-f]+/).first()).toBeVisible();
  await expect(page.getByRole('status').filter({ hasText: /^Live$/ })).toBeVisible();
  expect(loads).toBe(loadsBefore);
  await shot(page, 'zone-ready');

  // The list shows it with its AWS ids.
  await page.getByRole('link', { name: 'Zones' }).first().click();
  const row = page.getByRole('row', { name: /web-a/ });
  await expect(row.getByText('ready')).toBeVisible();
  await expect(row.getByText(/vpc-/)).toBeVisible();
  await context.close();
});
