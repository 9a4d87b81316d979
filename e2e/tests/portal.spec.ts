import { Page, Browser } from '@playwright/test';
import { test, expect, adminEmail, adminPassword, enrolMfa, hydrated, shot, signIn, signInAdmin, signInWithCode } from './support';

const ownerPassword = 'owner passphrase for acme';
const viewerPassword = 'viewer passphrase for acme';

async function newPage(browser: Browser) {
  const context = await browser.newContext();
  return context.newPage();
}

test('admin creates a tenant, the owner invites a viewer, the viewer cannot invite', async ({ browser }) => {
  test.skip(!adminPassword, 'E2E_ADMIN_PASSWORD is not set (scripts/test sets it)');

  // The first admin signs in; a wrong password is explained in place.
  const admin = await newPage(browser);
  await admin.goto('/login', { waitUntil: 'networkidle' });
  await admin.getByLabel('Email').fill(adminEmail);
  await admin.getByLabel('Password').fill('not the right password');
  await admin.getByRole('button', { name: 'Sign in' }).click();
  await expect(admin.getByRole('alert')).toHaveText('Email or password is incorrect.');
  // A platform admin must set up two-factor authentication before anything else.
  await signInAdmin(admin);
  // The embedded default gives the first admin a demo tenant on the sandbox cloud.
  await expect(admin.getByRole('heading', { name: 'Demo' })).toBeVisible();

  // Creates a tenant: bad input first, explained beside the field.
  await admin.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Tenants' }).click();
  await admin.getByLabel('Slug').fill('Acme Corp!');
  await admin.getByLabel('Display name').fill('Acme Corp');
  await admin.getByLabel("First owner's email").fill('ann@acme');
  await admin.getByRole('button', { name: 'Create tenant and invite owner' }).click();
  await expect(admin.locator('#tenant-slug-error')).toContainText('lowercase letters');
  await expect(admin.locator('#tenant-owner_email-error')).toContainText('Enter an email address');
  await admin.getByLabel('Slug').fill('acme');
  await admin.getByLabel("First owner's email").fill('ann@acme.test');
  await admin.getByRole('button', { name: 'Create tenant and invite owner' }).click();
  const ownerLink = await admin.locator('#invitation-url').inputValue();
  expect(ownerLink).toMatch(/\/invite\/[A-Za-z0-9_-]{40,}$/);
  await expect(admin.getByRole('cell', { name: 'Acme Corp' })).toBeVisible();

  // The owner accepts, lands in the tenant, signs out and signs in again.
  const owner = await newPage(browser);
  await owner.goto(ownerLink, { waitUntil: 'networkidle' });
  await expect(owner.getByRole('heading', { name: 'Join Acme Corp' })).toBeVisible();
  await owner.getByLabel('Your name').fill('Ann Owner');
  await owner.getByLabel('Choose a password').fill('password1234');
  await owner.getByRole('button', { name: 'Accept and sign in' }).click();
  await expect(owner.locator('#accept-password-error')).toContainText('most common');
  await owner.getByLabel('Choose a password').fill(ownerPassword);
  await owner.getByRole('button', { name: 'Accept and sign in' }).click();
  await expect(owner.getByRole('heading', { name: 'Acme Corp' })).toBeVisible();
  await owner.getByLabel('Account menu').click();
  await owner.getByRole('button', { name: 'Sign out' }).click();
  await expect(owner).toHaveURL(/\/login$/);
  await signIn(owner, 'ann@acme.test', ownerPassword);

  // The owner invites a viewer.
  await owner.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Members' }).click();
  const inviteForm = owner.getByRole('form', { name: 'Invite a member' });
  await inviteForm.getByLabel('Email').fill('vic@acme.test');
  await inviteForm.getByLabel('Role').selectOption('viewer');
  await inviteForm.getByRole('button', { name: 'Create invitation' }).click();
  const viewerLink = await owner.locator('#invitation-url').inputValue();
  await expect(owner.getByRole('cell', { name: 'vic@acme.test', exact: true })).toBeVisible();

  // The viewer accepts and sees the members, but no way to invite.
  const viewer = await newPage(browser);
  await viewer.goto(viewerLink, { waitUntil: 'networkidle' });
  await viewer.getByLabel('Your name').fill('Vic Viewer');
  await viewer.getByLabel('Choose a password').fill(viewerPassword);
  await viewer.getByRole('button', { name: 'Accept and sign in' }).click();
  await expect(viewer.getByRole('heading', { name: 'Acme Corp' })).toBeVisible();
  await viewer.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Members' }).click();
  await expect(viewer.getByRole('cell', { name: 'ann@acme.test' })).toBeVisible();
  await expect(viewer.getByRole('button', { name: 'Create invitation' })).toHaveCount(0);
  await expect(viewer.getByRole('heading', { name: 'Invite someone' })).toHaveCount(0);

  // A forged invite with the viewer's own session is refused by the backend.
  const forged = await viewer.request.post('/rpc/invite_member', {
    form: { email: 'mallory@acme.test', role: 'admin' },
    headers: { accept: 'application/json' },
  });
  expect(forged.status()).toBe(403);
  await owner.reload();
  await expect(owner.getByRole('cell', { name: 'mallory@acme.test' })).toHaveCount(0);
});

test('the owner turns on two-factor authentication and signs in with it', async ({ browser }) => {
  test.skip(!adminPassword, 'E2E_ADMIN_PASSWORD is not set (scripts/test sets it)');
  const owner = await newPage(browser);
  await signIn(owner, 'ann@acme.test', ownerPassword);
  await owner.getByLabel('Account menu').click();
  await owner.getByRole('link', { name: 'Account', exact: true }).click();
  await expect(owner.getByRole('heading', { name: 'Account', exact: true, level: 1 })).toBeVisible();
  await expect(owner.getByRole('cell', { name: /This session/ })).toBeVisible();
  await owner.getByRole('link', { name: 'Turn on two-factor authentication' }).click();
  const [authenticator] = await enrolMfa(owner, ownerPassword, 'owner');
  await owner.getByRole('link', { name: 'I have saved my recovery codes' }).click();
  await expect(owner.getByText('10 of 10 recovery codes left.')).toBeVisible();
  await shot(owner, 'account');

  // Signing in again asks for a code; the one just used is refused, a fresh one works.
  await owner.getByLabel('Account menu').click();
  await owner.getByRole('button', { name: 'Sign out', exact: true }).click();
  await expect(owner).toHaveURL(/\/login$/);
  await hydrated(owner);
  await owner.getByLabel('Email').fill('ann@acme.test');
  await owner.getByLabel('Password').fill(ownerPassword);
  await owner.getByRole('button', { name: 'Sign in' }).click();
  await expect(owner).toHaveURL(/\/login\/mfa$/);
  await hydrated(owner);
  await owner.getByLabel('Authentication code').fill(authenticator.lastCode);
  await owner.getByRole('button', { name: 'Verify' }).click();
  await expect(owner.locator('#mfa-code-error')).toBeVisible();
  await shot(owner, 'second-factor');
  await owner.getByLabel('Authentication code').fill(await authenticator.next());
  await owner.getByRole('button', { name: 'Verify' }).click();
  await expect(owner.getByRole('heading', { name: 'Acme Corp' })).toBeVisible();
});

test('signed-out visitors are sent to sign in; unknown pages get a 404 page', async ({ page }) => {
  await page.goto('/members');
  await expect(page).toHaveURL(/\/login$/);
  await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();
  test.skip(!adminPassword, 'E2E_ADMIN_PASSWORD is not set (scripts/test sets it)');
  await signInAdmin(page);
  const missing = await page.goto('/no/such/page');
  expect(missing?.status()).toBe(404);
  await expect(page.getByRole('heading', { name: 'Page not found' })).toBeVisible();
});

test('the sandbox cloud is labelled as emulated and its connection test lists zones', async ({ page }) => {
  test.skip(!adminPassword, 'E2E_ADMIN_PASSWORD is not set (scripts/test sets it)');
  await signInAdmin(page);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Cloud accounts' }).click();
  const row = page.getByRole('row', { name: /Sandbox \(emulated AWS\)/ });
  await expect(row.getByText('Emulated', { exact: true })).toBeVisible();
  await row.getByRole('button', { name: 'Test connection' }).click();
  await expect(page.getByText(/Connected: \d+ availability zones in us-east-1/)).toBeVisible();
  await expect(page.getByText('us-east-1a', { exact: true })).toBeVisible();
});
