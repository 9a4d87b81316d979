// Instance groups in the portal: two Ready zones of the sandbox cloud, then a group created
// through its Review step whose instances appear live, one protected from scale-in, the group
// scaled through Review, its instance type, distribution and health grace changed through
// Review (the rollout per zone in the plan, the protected instance kept), and deleted with its
// name typed to confirm. No reload on the way.
// The zones are deleted at the end: the zone test expects a region without a network.
import { Page } from '@playwright/test';
import { adminPassword, deleteZone, ensureZone, expect, overflows, shot, signInAdmin, test } from './support';

/** Screenshots at the desktop width and narrower ones (a phone's by default), when
 *  E2E_SCREENSHOTS is set. */
async function shots(page: Page, name: string, widths = [400]) {
  if (!process.env.E2E_SCREENSHOTS) return;
  await shot(page, `${name}-1280`);
  for (const width of widths) {
    await page.setViewportSize({ width, height: 900 });
    await shot(page, `${name}-${width}`);
  }
  await page.setViewportSize({ width: 1280, height: 900 });
}

test('an instance group is created through Review, fills live, is scaled and changed through Review and deleted', async ({ page }) => {
  test.skip(!adminPassword, 'E2E_ADMIN_PASSWORD is not set (scripts/test sets it)');
  test.setTimeout(240_000);
  await page.setViewportSize({ width: 1280, height: 900 });
  await signInAdmin(page);
  await ensureZone(page, 'grp-b', 'us-east-1b');
  await ensureZone(page, 'grp-c', 'us-east-1c');
  const name = `web-${Date.now().toString(36).slice(-5)}`;
  let loads = 0;
  page.on('load', () => loads++);

  await page.goto('/instance-groups');
  await expect(page.getByRole('heading', { level: 1, name: 'Instance groups' })).toBeVisible();
  await page.getByRole('link', { name: 'Create instance group' }).first().click();
  await expect(page.getByRole('heading', { name: 'Create instance group' })).toBeVisible();

  // The two zones of the sandbox account, and no other.
  await page.getByLabel('Cloud account').selectOption({ label: 'Sandbox (emulated AWS) (us-east-1)' });
  const zones = page.getByRole('group', { name: 'Zones' });
  for (const box of await zones.getByRole('checkbox').all()) {
    const label = (await box.evaluate((e) => e.closest('label')?.textContent ?? '')).trim();
    await box.setChecked(/^grp-[bc]\b/.test(label));
  }
  // Bad input is explained beside its field, and nothing is created.
  await page.getByLabel('Name').fill('Web');
  await page.getByLabel('Desired').fill('two');
  await page.getByRole('button', { name: 'Review' }).click();
  await expect(page.locator('#group-desired-error')).toHaveText('Use a whole number.');
  await page.getByLabel('Desired').fill('2');
  await page.getByRole('button', { name: 'Review' }).click();
  await expect(page.locator('#group-name-error')).toContainText('lowercase');
  await expect(page.locator('#group-image-error')).toContainText('ami-');

  await page.getByLabel('Name').fill(name);
  await page.getByLabel('Instance type').selectOption('t3.micro');
  await page.getByLabel('Image id').fill('ami-0abcdef1234567890');
  await page.getByLabel('Minimum').fill('1');
  await page.getByLabel('Maximum').fill('6');
  await page.getByLabel('Desired').fill('2');
  await page.getByLabel('Distribution').selectOption('balanced');
  await shots(page, 'group-create');
  await page.getByRole('button', { name: 'Review' }).click();

  // The Review step: one instance per zone, the quota for instances and vCPUs, the cost.
  const plan = page.getByRole('region', { name: 'Plan' });
  await expect(plan.getByRole('heading', { name: 'Review' })).toBeVisible();
  await expect(plan.locator('.change-create').filter({ hasText: 'zone grp-b' })).toContainText('1 × t3.micro');
  await expect(plan.locator('.change-create').filter({ hasText: 'zone grp-c' })).toContainText('1 × t3.micro');
  await expect(plan.getByText(/instances quota: \d+ → \d+ of \d+/)).toBeVisible();
  await expect(plan.getByText(/vcpus quota: \d+ → \d+ of \d+/)).toBeVisible();
  await expect(plan.getByText(/Monthly cost: \$0\.00 → \$15\.18/)).toBeVisible();
  await shots(page, 'group-review');
  const loadsBefore = loads;
  await page.getByRole('button', { name: 'Create instance group' }).click();

  // The group's page: the instances appear as they launch, without a reload.
  await expect(page).toHaveURL(/\/instance-groups\/[0-9a-f-]{36}$/);
  await expect(page.getByRole('heading', { level: 1, name })).toBeVisible();
  const rows = page.locator('table.instances tbody tr');
  await expect(rows).toHaveCount(2, { timeout: 30_000 });
  await expect(rows.filter({ hasText: 'running' })).toHaveCount(2, { timeout: 30_000 });
  await expect(page.locator('.page-header [data-status]')).toHaveText('ready', { timeout: 30_000 });
  await expect(page.getByRole('img', { name: 'Instances per zone: grp-b 1 running of 1 wanted, grp-c 1 running of 1 wanted' })).toBeVisible();
  await expect(page.getByRole('status').filter({ hasText: /^Live$/ })).toBeVisible();
  expect(loads).toBe(loadsBefore);

  // Protect one instance from scale-in: its button names its row.
  const first = (await rows.first().locator('code.id').textContent())!.trim();
  await page.getByRole('button', { name: `Protect instance ${first}` }).click();
  await expect(page.getByRole('button', { name: `Unprotect instance ${first}` })).toBeVisible();
  await expect(rows.filter({ hasText: first })).toContainText('yes');
  expect(await overflows(page), 'group page at 1280 px').toEqual([]);
  await shots(page, 'group-page');

  // Scale: out of range is refused beside the field; 4 goes through Review.
  const desired = page.getByLabel('Desired instances');
  await desired.fill('9');
  await page.getByRole('button', { name: 'Review scale' }).click();
  await expect(page.locator('#group-scale-desired-error')).toContainText('between min (1) and max (6)');
  await desired.fill('4');
  await page.getByRole('button', { name: 'Review scale' }).click();
  await expect(plan.locator('.change-create').filter({ hasText: 'zone grp-b' })).toContainText('1 × t3.micro');
  await expect(plan.getByText(/Monthly cost: \$15\.18 → \$30\.37/)).toBeVisible();
  await shots(page, 'group-scale-review');
  await page.getByRole('button', { name: 'Apply scale' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Desired is now 4' })).toBeVisible();
  await expect(rows).toHaveCount(4, { timeout: 30_000 });
  await expect(rows.filter({ hasText: 'running' })).toHaveCount(4, { timeout: 30_000 });
  await expect(page.getByRole('img', { name: 'Instances per zone: grp-b 2 running of 2 wanted, grp-c 2 running of 2 wanted' })).toBeVisible({ timeout: 30_000 });
  expect(loads).toBe(loadsBefore);

  // The list shows it with its counts and cost.
  await page.getByRole('link', { name: 'Instance groups' }).first().click();
  const row = page.getByRole('row', { name: new RegExp(name) });
  await expect(row).toContainText('4 / 4');
  await expect(row).toContainText('grp-b, grp-c');
  await expect(row).toContainText('$30.37/month');
  expect(await overflows(page), 'list at 1280 px').toEqual([]);
  await shots(page, 'group-list');

  // Change: a budget that is not one is refused beside its field; a new instance type goes
  // through Review, whose plan shows the new revision and the rollout per zone.
  await row.getByRole('link', { name }).click();
  await expect(page.getByRole('heading', { level: 1, name })).toBeVisible();
  const change = page.getByRole('form', { name: 'Change the group' });
  await expect(change.getByLabel('Instance type')).toHaveValue('t3.micro');
  await change.getByLabel('Max surge').fill('lots');
  await change.getByLabel('Health grace (seconds)').fill('soon');
  await change.getByRole('button', { name: 'Review change' }).click();
  await expect(page.locator('#group-edit-surge-error')).toContainText('a percentage such as 25%');
  await expect(change.getByLabel('Max surge')).toHaveAttribute('aria-invalid', 'true');
  await expect(page.locator('#group-edit-grace-error')).toContainText('Use a whole number.');
  await change.getByLabel('Max surge').fill('1');
  await change.getByLabel('Health grace (seconds)').fill('120');
  await change.getByLabel('Distribution').selectOption('even-strict');
  await change.getByLabel('Instance type').selectOption('t3.small');
  await change.getByRole('button', { name: 'Review change' }).click();
  await expect(plan.getByRole('row', { name: /template\.instance type/ })).toContainText(/t3\.micro\s*t3\.small/);
  await expect(plan.getByRole('row', { name: /policy\.distribution/ })).toContainText(/balanced\s*even-strict/);
  await expect(plan.getByRole('row', { name: /policy\.health grace/ })).toContainText(/\d+\s*120/);
  await expect(plan.getByRole('row', { name: /template\.revision/ })).toContainText(/1\s*2/);
  for (const zone of ['grp-b', 'grp-c']) {
    // Two instances per zone, one of them protected (kept on its revision) in one zone.
    await expect(plan.locator('.change-update').filter({ hasText: `zone ${zone}` }))
      .toContainText(/replace [12] in zone .* with the new template \(max surge [01], max unavailable 0 in this zone\)/);
  }
  await expect(plan.getByText(/Monthly cost: \$30\.37 → \$60\.74/)).toBeVisible();
  await shots(page, 'group-change-review', [800]);
  await page.getByRole('button', { name: 'Apply change' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Changed: t3.small on revision 2' })).toBeVisible();
  await expect(page.getByRole('region', { name: 'Plan' })).toHaveCount(0);
  // The rollout follows live: every instance but the protected one on revision 2, four running.
  const revisions = page.locator('table.instances td[data-label="Revision"]');
  await expect(revisions.filter({ hasText: /^2$/ })).toHaveCount(3, { timeout: 60_000 });
  await expect(rows).toHaveCount(4, { timeout: 30_000 });
  await expect(rows.filter({ hasText: 'running' })).toHaveCount(4, { timeout: 30_000 });
  await expect(rows.filter({ hasText: first })).toContainText('yes');
  await expect(page.locator('.page-header [data-status]')).toHaveText('ready', { timeout: 30_000 });
  await expect(page.locator('.page-header .subtitle')).toContainText('4 × t3.small in us-east-1');
  await expect(page.getByText('even-strict; scale-in oldest-first')).toBeVisible();
  await expect(page.getByText(/after a grace of 120 s/)).toBeVisible();
  expect(await overflows(page), 'changed group page at 1280 px').toEqual([]);
  await shots(page, 'group-changed', [800, 400]);
  expect(loads).toBe(loadsBefore);

  // Delete: the plan, then the name typed to confirm.
  await page.getByRole('button', { name: 'Review deletion' }).click();
  await expect(plan.locator('.change-destroy').first()).toBeVisible();
  const confirm = page.getByRole('button', { name: `Delete instance group ${name}` });
  await expect(confirm).toBeDisabled();
  await page.getByLabel("Type the instance group's name to confirm").fill(name);
  await confirm.click();
  // Terminating two instances in the sandbox can finish before the page looks again.
  await expect(page.getByText(/^Deletion requested|^Not found$/).first()).toBeVisible();
  expect(loads).toBe(loadsBefore);
  await page.getByRole('link', { name: 'Instance groups' }).first().click();
  await expect(page.getByRole('row', { name: new RegExp(name) })).toHaveCount(0, { timeout: 60_000 });

  // The zones go too (the group released them), and with the last one the region's network,
  // so the zone test that runs later finds the region as a new tenant would.
  for (const zone of ['grp-b', 'grp-c']) await deleteZone(page, zone);
});
