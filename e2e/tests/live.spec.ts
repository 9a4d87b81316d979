import { adminPassword, expect, signInAdmin, test } from './support';

test('a zone survey moves live on the Jobs page and on its own page, without a reload', async ({ browser }) => {
  test.skip(!adminPassword, 'E2E_ADMIN_PASSWORD is not set (scripts/test sets it)');
  const context = await browser.newContext();

  // One tab watches the Jobs page; everything it learns arrives over its WebSocket.
  const watcher = await context.newPage();
  await signInAdmin(watcher);
  const frames: string[] = [];
  watcher.on('websocket', (ws) => ws.on('framereceived', (f) => frames.push(String(f.payload))));
  let loads = 0;
  watcher.on('load', () => loads++);
  await watcher.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Jobs' }).click();
  await expect(watcher.getByRole('heading', { name: 'Jobs', exact: true })).toBeVisible();
  await expect(watcher.getByRole('status').filter({ hasText: /^Live$/ })).toBeVisible();
  const loadsBefore = loads;

  // Another tab starts a survey of the sandbox cloud's zones and lands on the job's page.
  const actor = await context.newPage();
  await actor.goto('/cloud-accounts');
  const row = actor.getByRole('row', { name: /Sandbox \(emulated AWS\)/ });
  await row.getByRole('button', { name: 'Survey zones' }).click();
  await expect(actor).toHaveURL(/\/jobs\/\d+$/);
  const jobId = actor.url().split('/').pop()!;
  await expect(actor.getByRole('progressbar', { name: 'Job progress' })).toHaveAttribute('aria-valuenow', '100');
  await expect(actor.getByText(/us-east-1a: \d+ instance types offered/)).toBeVisible();
  await expect(actor.locator('.page-header .badge')).toHaveText('succeeded');

  // The watching tab shows the new job at 100% and succeeded, without having reloaded.
  const bar = watcher.getByRole('progressbar', { name: `Progress of job ${jobId}` });
  await expect(bar).toHaveAttribute('aria-valuenow', '100');
  await expect(watcher.getByRole('row', { name: new RegExp(`#${jobId}\\b`) }).getByText('succeeded')).toBeVisible();
  expect(loads).toBe(loadsBefore);
  const progress = frames.filter((f) => f.includes('"type":"event"') && f.includes(`"job_id":${jobId},`) && f.includes('"kind":"progress"'));
  expect(progress.length).toBeGreaterThan(0);
  expect(progress.some((f) => f.includes('"percent":100'))).toBeTruthy();
  await context.close();
});
