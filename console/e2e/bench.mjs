// The figures of "How it must feel" (issue 16), measured in Chromium with the
// Performance API against a real `distorch serve` driven over its API. Not a
// test: it prints the figures for docs/benchmarks.md.
//
//   node e2e/bench.mjs            (INSTANCES=100000 by default)
//
// 1. The workflow list's first page with INSTANCES instances in the store:
//    from navigation start to the first row on screen.
// 2. A 200-step definition: dagre's layout, and layout + draw (to the frame
//    after the SVG is in the DOM).
// 3. An open workflow receiving about 20 events a second for 10 s: DOM nodes
//    added or removed in the graph (a full redraw would replace them all),
//    steps redrawn per event, long tasks and the slowest frame.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNode } from './node.mjs';
import { launch } from './browser.mjs';

const INSTANCES = Number(process.env.INSTANCES ?? 100_000);
const folder = mkdtempSync(join(tmpdir(), 'distorch-bench-'));

writeFileSync(join(folder, 'one.yaml'), 'name: bench-one\nversion: 1\nsteps:\n  only: { type: noop }\n');
// 200 steps in 4 lanes of 50, the lanes joined every 10 levels.
const big = ['name: bench-200', 'version: 1', 'steps:'];
for (let level = 0; level < 50; level++) {
  for (let lane = 0; lane < 4; lane++) {
    const needs = level === 0 ? [] : level % 10 === 0 && lane === 0 ? [0, 1, 2, 3].map((l) => `s${level - 1}_${l}`) : [`s${level - 1}_${lane}`];
    big.push(`  s${level}_${lane}: { type: noop${needs.length ? `, needs: [${needs.join(', ')}]` : ''} }`);
  }
}
writeFileSync(join(folder, 'big.yaml'), `${big.join('\n')}\n`);
// A chain of 100 steps of 80 ms: two events per step, 20 or more a second.
const ticker = ['name: bench-ticker', 'version: 1', 'steps:'];
for (let i = 0; i < 100; i++) ticker.push(`  t${i}: { type: noop, duration: 80ms${i ? `, needs: [t${i - 1}]` : ''} }`);
writeFileSync(join(folder, 'ticker.yaml'), `${ticker.join('\n')}\n`);

const node = await startNode({ workflows: folder });
const browser = await launch();
const figures = {};
try {
  // Fill the store.
  const started = Date.now();
  let next = 0;
  const batch = async () => {
    while (next < INSTANCES) {
      const size = Math.min(100, INSTANCES - next);
      next += size;
      await node.api('/api/v1/workflows/batch', { method: 'POST', body: { workflows: Array.from({ length: size }, (_, i) => ({ definition: 'bench-one', input: { n: next + i } })) } });
    }
  };
  await Promise.all(Array.from({ length: 6 }, batch));
  for (;;) {
    const counts = (await node.api('/api/v1/overview')).counts;
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    if (total >= INSTANCES) break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  figures.filled = `${INSTANCES} instances started and projected in ${((Date.now() - started) / 1000).toFixed(0)} s`;

  const page = await browser.context.newPage();
  await page.goto(`${node.url}/sign-in`);
  await page.getByLabel('API key or token').fill(node.keys.admin);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Overview' }).waitFor();

  // 1. The first page of the list, five cold navigations.
  const firstPage = [];
  for (let i = 0; i < 5; i++) {
    await page.goto(`${node.url}/workflows`, { waitUntil: 'commit' });
    firstPage.push(
      await page.evaluate(
        () =>
          new Promise((done) => {
            const look = () => (document.querySelector('table.list tbody tr[data-id]') ? done(performance.now()) : requestAnimationFrame(look));
            look();
          }),
      ),
    );
  }
  figures.listFirstPageMs = firstPage.map((t) => Math.round(t));

  // 2. The 200-step graph, each time in a fresh page (the layout is cached per page).
  const layouts = [];
  for (let i = 0; i < 5; i++) {
    await page.goto(`${node.url}/definitions/bench-200`);
    await page.locator('[data-step="s49_3"]').waitFor();
    await page.waitForFunction(() => performance.getEntriesByName('graph-drawn').length > 0);
    layouts.push(
      await page.evaluate(() => {
        const at = (name) => performance.getEntriesByName(name)[0].startTime;
        return { layout: at('graph-layout-end') - at('graph-layout-start'), layoutAndDraw: at('graph-drawn') - at('graph-layout-start') };
      }),
    );
  }
  figures.graph200 = layouts.map((l) => ({ layoutMs: Math.round(l.layout), layoutAndDrawMs: Math.round(l.layoutAndDraw) }));

  // 3. About 20 events a second on an open workflow page.
  const id = (await node.api('/api/v1/workflows', { method: 'POST', body: { definition: 'bench-ticker', input: {} } })).id;
  await page.goto(`${node.url}/workflows/${id}`);
  await page.locator('[data-step="t99"]').waitFor();
  await page.evaluate(() => {
    const svg = document.querySelector('svg.graph');
    window.__bench = { added: 0, removed: 0, changedSteps: 0, longTasks: 0, slowestFrame: 0, frames: 0, events: 0 };
    new MutationObserver((records) => {
      const touched = new Set();
      for (const r of records) {
        for (const n of r.addedNodes) if (n.nodeType === 1) window.__bench.added++;
        for (const n of r.removedNodes) if (n.nodeType === 1) window.__bench.removed++;
        const step = (r.target.nodeType === 1 ? r.target : r.target.parentElement)?.closest('[data-step]');
        if (step) touched.add(step.dataset.step);
      }
      window.__bench.changedSteps += touched.size;
    }).observe(svg, { subtree: true, childList: true, attributes: true, characterData: true });
    new PerformanceObserver((list) => (window.__bench.longTasks += list.getEntries().length)).observe({ type: 'longtask' });
    let last = performance.now();
    const frame = (now) => {
      window.__bench.slowestFrame = Math.max(window.__bench.slowestFrame, now - last);
      window.__bench.frames++;
      last = now;
      if (!window.__bench.done) requestAnimationFrame(frame);
    };
    requestAnimationFrame(frame);
    window.__bench.start = document.querySelectorAll('.history, [role=tab]').length;
  });
  const before = await page.evaluate(() => document.querySelector('[role=tab]:nth-child(2)').textContent);
  await page.waitForTimeout(10_000);
  const after = await page.evaluate(() => document.querySelector('[role=tab]:nth-child(2)').textContent);
  const seen = await page.evaluate(() => ({ ...window.__bench, done: (window.__bench.done = true) }));
  const count = (text) => Number(text.match(/\((\d+) events\)/)[1]);
  const events = count(after) - count(before);
  figures.live = {
    events,
    eventsPerSecond: +(events / 10).toFixed(1),
    graphElementsAddedOrRemoved: seen.added + seen.removed,
    stepsRedrawnPerEvent: +(seen.changedSteps / Math.max(1, events)).toFixed(2),
    longTasks: seen.longTasks,
    slowestFrameMs: Math.round(seen.slowestFrame),
    frames: seen.frames,
  };
} finally {
  await browser.close();
  await node.stop();
  rmSync(folder, { recursive: true, force: true });
}
console.log(JSON.stringify(figures, null, 2));
