// Databases in the portal: two Ready zones of the sandbox cloud, a database created through its
// Review step and followed live to its endpoint; a class change for the next maintenance window
// stays pending on the page (the sandbox's fault proxy keeps it, as RDS would) until "apply now"
// applies it; then the database is deleted with its name typed, and the zones go too.
import { Page } from '@playwright/test';
import { adminPassword, deleteZone, ensureZone, expect, overflows, shot, signInAdmin, test } from './support';

/** Adds or removes the sandbox account's "hold changes for the maintenance window" fault. */
async function maintenanceWindowFault(page: Page, on: boolean) {
  await page.goto('/cloud-accounts');
  const faults = page.getByRole('region', { name: /^Faults for Sandbox/ });
  const rule = faults.getByRole('row', { name: /ModifyDBInstance: hold changes until the maintenance window/ });
  if (on) {
    await faults.getByLabel('Operation').fill('ModifyDBInstance');
    await faults.getByLabel('Effect').selectOption('maintenance_window');
    await faults.getByLabel('Times (empty: until removed)').fill('');
    await faults.getByRole('button', { name: 'Add fault' }).click();
    await expect(rule).toBeVisible();
  } else {
    await rule.getByRole('button', { name: 'Remove' }).click();
    await expect(rule).toHaveCount(0);
  }
}

test('a database is created through Review, a change waits for the window until applied now, and it is deleted', async ({ page }) => {
  test.skip(!adminPassword, 'E2E_ADMIN_PASSWORD is not set (scripts/test sets it)');
  test.setTimeout(240_000);
  await page.setViewportSize({ width: 1280, height: 900 });
  await signInAdmin(page);
  await ensureZone(page, 'db-b', 'us-east-1b');
  await ensureZone(page, 'db-c', 'us-east-1c');
  await maintenanceWindowFault(page, true);
  const name = `orders-${Date.now().toString(36).slice(-5)}`;

  await page.goto('/databases');
  await expect(page.getByRole('heading', { level: 1, name: 'Databases' })).toBeVisible();
  await page.getByRole('link', { name: 'Create database' }).first().click();
  await expect(page.getByRole('heading', { name: 'Create database' })).toBeVisible();
  // Bad input is explained beside its field.
  await page.getByLabel('Name').fill('Orders!');
  await page.getByLabel('Storage (GiB)').fill('5');
  await page.getByRole('button', { name: 'Review' }).click();
  await expect(page.locator('#db-name-error')).toContainText('lowercase');
  await expect(page.locator('#db-storage-error')).toBeVisible();

  await page.getByLabel('Name').fill(name);
  await page.getByLabel('Storage (GiB)').fill('20');
  await page.getByLabel('Zone').selectOption({ label: 'db-b (us-east-1b, Sandbox (emulated AWS))' });
  await page.getByLabel('Availability').selectOption({ label: 'Standby in db-c (us-east-1c)' });
  await page.getByLabel('Deletion protection').uncheck();
  await page.getByRole('button', { name: 'Review' }).click();

  // Review: the objects to create, the quota and the cost, and what a standby is.
  const plan = page.getByRole('region', { name: 'Plan' });
  await expect(plan.getByRole('heading', { name: 'Review' })).toBeVisible();
  await expect(plan.locator('.change-create').filter({ hasText: 'DB instance' })).toBeVisible();
  await expect(plan.getByText(/databases quota: \d+ → \d+ of \d+/)).toBeVisible();
  await expect(plan.getByText(/Monthly cost: \$0\.00 → \$/)).toBeVisible();
  await expect(plan.getByText(/not readable/)).toBeVisible();
  await page.getByRole('button', { name: 'Create database' }).click();

  // The database's page follows it live to Ready with its endpoint.
  await expect(page).toHaveURL(/\/databases\/[0-9a-f-]{36}$/);
  await expect(page.getByRole('heading', { level: 1, name })).toBeVisible();
  await expect(page.locator('.page-header [data-status]')).toHaveText('ready', { timeout: 60_000 });
  await expect(page.locator('dl.facts')).toContainText(/:5432/);
  expect(await overflows(page), 'database page at 1280 px').toEqual([]);

  // A class change for the next maintenance window: Ready, with the change pending.
  await page.getByLabel('Class', { exact: true }).selectOption('db.t3.small');
  await page.getByLabel('Apply at the next maintenance window').check();
  await page.getByRole('button', { name: 'Review change' }).click();
  await expect(plan.getByText(/at the next maintenance window/)).toBeVisible();
  await page.getByRole('button', { name: 'Apply change' }).click();
  const pending = page.getByRole('note').filter({ hasText: 'Pending until the maintenance window' });
  await expect(pending).toContainText('instance class: db.t3.micro → db.t3.small', { timeout: 60_000 });
  await expect(page.locator('dl.facts')).toContainText('db.t3.micro (→ db.t3.small at the maintenance window), 20 GiB');

  // Apply now: reviewed (it restarts the database), then applied; the pending note goes.
  await pending.getByRole('button', { name: 'Review applying them now' }).click();
  await expect(pending.getByText(/pending for the maintenance window: instance_class → db.t3.small/)).toBeVisible();
  await expect(pending.getByText(/restarts the database/)).toBeVisible();
  await shot(page, 'database-pending-1280');
  await page.setViewportSize({ width: 400, height: 900 });
  await shot(page, 'database-pending-400');
  await page.setViewportSize({ width: 1280, height: 900 });
  await pending.getByRole('button', { name: 'Apply now' }).click();
  await expect(pending).toHaveCount(0, { timeout: 60_000 });
  await expect(page.locator('dl.facts')).toContainText('db.t3.small, 20 GiB', { timeout: 60_000 });
  await page.setViewportSize({ width: 800, height: 900 });
  expect(await overflows(page), 'database page at 800 px').toEqual([]);
  await page.setViewportSize({ width: 1280, height: 900 });

  // Delete: the plan names the final snapshot; the name typed confirms.
  await page.getByRole('button', { name: 'Review deletion' }).click();
  await expect(plan.getByText(/-final/).first()).toBeVisible();
  const confirm = page.getByRole('button', { name: `Delete database ${name}` });
  await expect(confirm).toBeDisabled();
  await page.getByLabel("Type the database's name to confirm").fill(name);
  await confirm.click();
  await page.getByRole('link', { name: 'Databases' }).first().click();
  await expect(page.getByRole('row', { name: new RegExp(name) })).toHaveCount(0, { timeout: 60_000 });

  await maintenanceWindowFault(page, false);
  for (const zone of ['db-b', 'db-c']) await deleteZone(page, zone);
});
