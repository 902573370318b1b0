// The console in a real browser (Debian's Chromium) against a real
// `distorch serve`: the scenarios of issue 16. Every page visited is checked
// with axe-core (no serious or critical violation), for console errors and
// for requests leaving the node's origin. Screenshots for docs/console.md
// are written to docs/console/ when SCREENSHOTS=1.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { startNode } from './node.mjs';
import { accessibility, launch, watchedPage } from './browser.mjs';
import { services } from './services.mjs';

const SHOTS = resolve(import.meta.dirname, '../../docs/console');
const shooting = process.env.SCREENSHOTS === '1';
if (shooting) mkdirSync(SHOTS, { recursive: true });

async function shot(page, name) {
  if (shooting) await page.screenshot({ path: join(SHOTS, `${name}.png`) });
}

/** Checks what every page must hold: no axe violation, no console error, nothing off-origin. */
async function clean(page, where) {
  const violations = await accessibility(page);
  assert.deepEqual(violations, [], `${where}: accessibility violations`);
  assert.deepEqual(page.problems, [], `${where}: problems`);
}

async function signIn(page, node, key, path = '/') {
  await page.goto(`${node.url}${path}`);
  await page.getByLabel('API key or token').waitFor();
  await clean(page, 'sign-in');
  await page.getByLabel('API key or token').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((url) => url.pathname === path);
}

const step = (page, id) => page.locator(`[data-step="${id}"]`);
async function stateOf(page, id) {
  return step(page, id).getAttribute('data-state');
}
async function untilState(page, id, state, timeout = 30_000) {
  await page.locator(`[data-step="${id}"][data-state="${state}"]`).waitFor({ timeout });
}

function scenarios(mode, setup) {
  describe(`the console (${mode})`, () => {
    let node;
    let browser;
    let page;
    let drop = () => {};

    before(async () => {
      ({ node, drop } = await setup());
      browser = await launch();
      page = await watchedPage(browser.context, node.url);
    });
    after(async () => {
      await browser?.close();
      await node?.stop();
      drop();
    });

    it('signs in and lands on the page asked for', async () => {
      await signIn(page, node, node.keys.admin, '/definitions');
      await page.getByRole('heading', { name: 'Definitions' }).waitFor();
      await page.getByRole('link', { name: 'shop-order' }).waitFor();
      await clean(page, '/definitions');
    });

    it('starts a workflow from the form generated from the input schema and watches its steps turn completed live', async () => {
      await page.goto(`${node.url}/definitions/shop-order`);
      await page.getByLabel('Order id').fill('o-form');
      await page.getByLabel('Amount').fill('20');
      await page.getByLabel('Currency').selectOption({ label: 'EUR' });
      await shot(page, 'definition');
      await clean(page, '/definitions/shop-order');
      await page.getByRole('button', { name: 'Start shop-order v1' }).click();
      await page.waitForURL(/\/workflows\/[0-9a-f-]{36}$/);
      await page.evaluate(() => (window.__stayed = true));
      await untilState(page, 'reserve_stock', 'completed');
      // The workers take a second each: the charge was not done when the page drew.
      assert.notEqual(await stateOf(page, 'confirm'), 'completed');
      await untilState(page, 'charge_payment', 'completed');
      await untilState(page, 'confirm', 'completed');
      assert.equal(await stateOf(page, 'manager_approval'), 'skipped');
      assert.equal(await page.evaluate(() => window.__stayed), true, 'the page was reloaded');
      await page.getByText('completed', { exact: true }).first().waitFor();
      await shot(page, 'workflow-completed');
      await clean(page, 'a completed workflow');
    });

    it('shows the detail of a refused action', async () => {
      await page.goto(`${node.url}/definitions/shop-order`);
      await page.getByRole('button', { name: 'Raw JSON' }).click();
      await page.getByLabel('Input (JSON)').fill('{"order_id": "o-bad"}');
      await page.getByRole('button', { name: 'Start shop-order v1' }).click();
      const alert = page.getByRole('alert');
      await alert.waitFor();
      // The node's problem, as it answered it (422, the schema's problems).
      assert.match(await alert.innerText(), /amount/);
      assert.equal(new URL(page.url()).pathname, '/definitions/shop-order');
      // A 4xx answer is logged by the browser itself: expected here.
      page.problems.splice(0);
      await clean(page, 'a refused start');
    });

    it('shows a failing workflow compensating in reverse order, with the cause in one sentence', async () => {
      const id = await node.start({ order_id: 'o-fail', amount: 30, currency: 'USD', fail_shipping: true });
      await page.goto(`${node.url}/workflows/${id}`);
      await untilState(page, 'reserve_stock', 'compensated');
      await untilState(page, 'charge_payment', 'compensated');
      assert.equal(await stateOf(page, 'ship'), 'failed');
      const cause = page.getByRole('note', { name: 'Why it ended' });
      await cause.waitFor();
      assert.match(await cause.innerText(), /^Compensated because step ship failed on attempt 1: .*carrier refused the parcel/);
      const rows = await page.locator('.waterfall .k-compensation .row-step').allInnerTexts();
      assert.deepEqual(rows, ['charge_payment', 'reserve_stock'], 'compensations in reverse order');
      // By keyboard: a step of the graph opens its panel, the error verbatim.
      await step(page, 'ship').focus();
      await page.keyboard.press('Enter');
      const panel = page.getByRole('region', { name: 'Step ship' });
      await panel.locator('.verbatim', { hasText: 'the carrier refused the parcel' }).waitFor();
      assert.match(await panel.innerText(), /Error of attempt 1 \(permanent\)/);
      await shot(page, 'workflow-compensated');
      await clean(page, 'a compensated workflow');
    });

    it('picks an earlier event in the history and shows the earlier graph', async () => {
      const id = await node.start({ order_id: 'o-travel', amount: 10, currency: 'EUR' });
      await node.waitFor(id, ['completed']);
      await page.goto(`${node.url}/workflows/${id}`);
      await untilState(page, 'confirm', 'completed');
      await page.getByRole('tab', { name: /History/ }).click();
      await page.getByRole('button', { name: /right after event 2, StepScheduled/ }).click();
      await untilState(page, 'reserve_stock', 'scheduled');
      assert.equal(await stateOf(page, 'confirm'), 'pending');
      await page.getByText('Showing the graph as it was right after event 2').waitFor();
      await shot(page, 'time-travel');
      await clean(page, 'time travel');
      await page.getByRole('button', { name: 'Back to live' }).click();
      await untilState(page, 'reserve_stock', 'completed');
    });

    it('cancels with compensation', async () => {
      const id = await node.start({ order_id: 'o-cancel', amount: 900, currency: 'EUR' });
      await page.goto(`${node.url}/workflows/${id}`);
      await untilState(page, 'manager_approval', 'waiting for approval');
      await page.getByRole('button', { name: 'Cancel…' }).click();
      await page.getByRole('button', { name: 'Cancel and compensate' }).click();
      await untilState(page, 'reserve_stock', 'compensated');
      const cause = page.getByRole('note', { name: 'Why it ended' });
      await cause.waitFor();
      assert.match(await cause.innerText(), /^Cancelled: apikey:\w+ cancelled it with compensation\.$/);
      await clean(page, 'a cancelled workflow');
    });

    it('approves from /approvals and the workflow continues', async () => {
      const id = await node.start({ order_id: 'o-approve', amount: 700, currency: 'EUR' });
      await node.waitFor(id, ['running']);
      const approver = await watchedPage(browser.context, node.url);
      try {
        await approver.evaluate(() => sessionStorage.clear()).catch(() => {});
        await signIn(approver, node, node.keys.approver, '/approvals');
        const card = approver.getByRole('listitem', { name: `approval manager_approval of workflow ${id}` });
        await card.waitFor({ timeout: 30_000 });
        await shot(approver, 'approvals');
        await clean(approver, '/approvals');
        await card.getByLabel('Comment on manager_approval (optional)').fill('fine by me');
        await card.getByRole('button', { name: 'Approve' }).click();
        await card.getByText('Approved. The workflow continues.').waitFor();
        await approver.goto(`${node.url}/workflows/${id}`);
        await untilState(approver, 'manager_approval', 'completed');
        await untilState(approver, 'confirm', 'completed');
        // An approver may decide, not steer: no operator action.
        assert.equal(await approver.getByRole('button', { name: 'Pause' }).count(), 0);
        await clean(approver, 'the approved workflow');
      } finally {
        await approver.close();
      }
    });

    it('lists a new instance and changes its status in place, live, without reloading', async () => {
      await page.goto(`${node.url}/workflows?definition=shop-order`);
      await page.locator('table.list tbody tr[data-id]').first().waitFor();
      await page.evaluate(() => (window.__stayed = true));
      const id = await node.start({ order_id: 'o-live', amount: 15, currency: 'EUR' });
      const row = page.locator(`tr[data-id="${id}"]`);
      await row.waitFor({ timeout: 30_000 });
      await row.getByText('completed', { exact: true }).waitFor({ timeout: 30_000 });
      assert.equal(await page.evaluate(() => window.__stayed), true, 'the list was reloaded');
      await clean(page, 'the live list');
    });

    it('serves the deep link of each page on reload', async () => {
      const id = (await node.api('/api/v1/workflows?limit=1')).items[0].id;
      const pages = [
        ['/', 'Overview'],
        ['/workflows', 'Workflows'],
        [`/workflows/${id}`, /Workflow/],
        ['/approvals', 'Approvals'],
        ['/definitions', 'Definitions'],
        ['/definitions/shop-order', /Definition shop-order/],
      ];
      for (const [path, heading] of pages) {
        await page.goto(`${node.url}${path}`);
        await page.reload();
        await page.getByRole('heading', { level: 1, name: heading }).waitFor();
        assert.equal(new URL(page.url()).pathname, path);
        if (path === '/') await page.locator('.tiles').waitFor();
        if (path === '/workflows') await page.locator(`tr[data-id="${id}"]`).waitFor();
        if (path === '/' || path === '/workflows') await shot(page, path === '/' ? 'overview' : 'workflows');
        if (path === '/definitions/shop-order') {
          // Instances ran: each step shows its p50, p95 and failure rate.
          await page.locator('[data-step="reserve_stock"][data-state^="p50 "]').waitFor();
          await page.getByText(/^Bottleneck:/).waitFor();
          await shot(page, 'definition-figures');
        }
        await clean(page, `${path} after a reload`);
      }
      const missing = await fetch(`${node.url}/api/v1/no-such-route`);
      assert.equal(missing.status, 404);
      assert.equal(missing.headers.get('content-type'), 'application/problem+json');
    });

    it('shows a viewer no action buttons', async () => {
      const id = await node.start({ order_id: 'o-viewer', amount: 800, currency: 'EUR' });
      const viewer = await watchedPage(browser.context, node.url);
      try {
        await signIn(viewer, node, node.keys.viewer, `/workflows/${id}`);
        await untilState(viewer, 'manager_approval', 'waiting for approval');
        await step(viewer, 'manager_approval').click();
        await viewer.getByRole('region', { name: 'Step manager_approval' }).waitFor();
        for (const name of ['Pause', 'Cancel…', 'Approve', 'Reject', 'Skip this step…', 'Retry this step']) {
          assert.equal(await viewer.getByRole('button', { name }).count(), 0, `a viewer sees ${name}`);
        }
        await viewer.goto(`${node.url}/definitions/shop-order`);
        await viewer.getByText('may not start workflows').waitFor();
        assert.equal(await viewer.getByRole('button', { name: /^Start / }).count(), 0);
        await clean(viewer, 'a viewer');
      } finally {
        await viewer.close();
      }
    });

    if (mode === 'embedded') {
      it('reconnects its stream after the node restarts, and says so', async () => {
        const id = await node.start({ order_id: 'o-restart', amount: 600, currency: 'EUR' });
        // A page of its own: the restart cuts its stream, and that is expected here.
        const page = await watchedPage(browser.context, node.url);
        await signIn(page, node, node.keys.admin, `/workflows/${id}`);
        await untilState(page, 'manager_approval', 'waiting for approval');
        await page.locator('.link-live').waitFor();
        await node.restart(() => page.locator('.link-reconnecting').waitFor({ timeout: 30_000 }));
        await page.locator('.link-live').waitFor({ timeout: 30_000 });
        await node.api(`/api/v1/tasks/${id}:manager_approval/approve`, { method: 'POST', body: { comment: 'after the restart' }, key: node.keys.approver });
        await untilState(page, 'manager_approval', 'completed');
        await untilState(page, 'confirm', 'completed');
        await page.close();
      });

      it('serves GraphiQL from the node, with nothing from a CDN, using the console credential', async () => {
        await page.goto(`${node.url}/graphql`);
        await page.locator('.graphiql-container').waitFor({ timeout: 30_000 });
        await page.getByText('Using the credential you signed in with.').waitFor();
        // Run the default query once the editor holds it (and again if the
        // first click came before GraphiQL had its schema).
        await page.waitForFunction(() => document.querySelector('.graphiql-query-editor')?.textContent?.includes('Recent'), null, { timeout: 30_000 });
        const answered = () => page.waitForFunction(() => document.querySelector('.graphiql-response')?.textContent?.includes('workflows'), null, { timeout: 10_000 });
        for (let attempt = 1; ; attempt++) {
          await page.locator('.graphiql-execute-button').click();
          try {
            await answered();
            break;
          } catch (error) {
            if (attempt === 3) throw error;
          }
        }
        await shot(page, 'graphiql');
        // GraphiQL's own markup is not ours to fix: no axe run here.
        assert.deepEqual(page.problems, []);
      });

      it('shows the overview with light and dark themes', async () => {
        await page.goto(`${node.url}/`);
        await page.locator('.tiles').waitFor();
        await page.getByLabel('Theme').selectOption('dark');
        await clean(page, 'the overview in the dark theme');
        await shot(page, 'overview-dark');
        await page.getByLabel('Theme').selectOption('system');
      });
    }
  });
}

scenarios('embedded', async () => ({ node: await startNode(), drop: () => {} }));

if (process.env.E2E_SERVICES !== '0') {
  scenarios('PostgreSQL + RabbitMQ', async () => {
    const made = services();
    try {
      return { node: await startNode({ services: made }), drop: made.drop };
    } catch (error) {
      made.drop();
      throw error;
    }
  });
}
