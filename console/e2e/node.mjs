// A real `distorch serve` for the browser tests: embedded (SQLite) by
// default, or on PostgreSQL + RabbitMQ; shell commands as the workers
// (`--exec QUEUE=cmd`), API keys for each role.

import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createServer } from 'node:net';

const ROOT = resolve(import.meta.dirname, '../..');
export const BINARY = process.env.DISTORCH_BIN ?? join(process.env.CARGO_TARGET_DIR ?? join(ROOT, 'target'), 'debug', 'distorch');

/** The workers: a second's work, so tests see steps run; the carrier refuses when asked. */
export const WORKERS = [
  'stock=sleep 1; cat >/dev/null; echo \'{"reservation": "R-1"}\'',
  'payments=sleep 1; cat >/dev/null; echo \'{"charge_id": "CH-1"}\'',
  'shipping=input=$(cat); case "$input" in *\'"fail":true\'*) echo "the carrier refused the parcel" >&2; exit 2;; esac; echo \'{"tracking": "T-1"}\'',
];

function freePort() {
  return new Promise((done) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
  });
}

function apikey(env, args, role) {
  const out = execFileSync(BINARY, ['apikey', ...args, 'create', '--role', role, '--name', `e2e-${role}`], { env, encoding: 'utf8' });
  const key = out.match(/dtk_[A-Za-z0-9_-]+/);
  if (!key) throw new Error(`no key in: ${out}`);
  return key[0];
}

async function until(what, check, seconds = 60) {
  const end = Date.now() + seconds * 1000;
  for (;;) {
    try {
      if (await check()) return;
    } catch {}
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Starts a node; `services` = { databaseUrl, amqpUrl } for the PostgreSQL + RabbitMQ mode. */
export async function startNode({ services, workflows = join(import.meta.dirname, 'workflows') } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'distorch-console-'));
  const port = await freePort();
  const env = { ...process.env, DISTORCH_LOG: 'warn' };
  delete env.DATABASE_URL;
  delete env.AMQP_URL;
  const storage = services ? [] : ['--data', join(dir, 'distorch.db')];
  if (services) {
    env.DATABASE_URL = services.databaseUrl;
    env.AMQP_URL = services.amqpUrl;
    execFileSync(BINARY, ['migrate'], { env });
  }
  const keys = {
    admin: apikey(env, storage, 'admin'),
    operator: apikey(env, storage, 'operator'),
    approver: apikey(env, storage, 'approver'),
    viewer: apikey(env, storage, 'viewer'),
  };
  const args = ['serve', '--addr', `127.0.0.1:${port}`, '--workflows', workflows, ...storage, ...WORKERS.flatMap((w) => ['--exec', w])];
  const child = spawn(BINARY, args, { env, stdio: ['ignore', 'inherit', 'inherit'] });
  const url = `http://127.0.0.1:${port}`;
  await until('the node to answer', async () => (await fetch(`${url}/health/live`)).ok);
  const node = {
    url,
    keys,
    dir,
    async api(path, { method = 'GET', body, key = keys.admin } = {}) {
      const response = await fetch(`${url}${path}`, { method, headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
      const text = await response.text();
      if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
      return text ? JSON.parse(text) : null;
    },
    async start(input) {
      return (await node.api('/api/v1/workflows', { method: 'POST', body: { definition: 'shop-order', input: { fail_shipping: false, ...input } } })).id;
    },
    async waitFor(id, statuses) {
      let last = '';
      await until(`workflow ${id} to be ${statuses}`, async () => {
        last = (await node.api(`/api/v1/workflows/${id}`)).status;
        return statuses.includes(last);
      });
      return last;
    },
    async stop() {
      child.kill('SIGTERM');
      await new Promise((done) => (child.exitCode !== null ? done() : child.once('exit', done)));
      rmSync(dir, { recursive: true, force: true });
    },
    /** Kills the process, runs `meanwhile`, and starts it again on the same port and storage. */
    async restart(meanwhile = async () => {}) {
      child.kill('SIGKILL');
      await new Promise((done) => (child.exitCode !== null ? done() : child.once('exit', done)));
      await meanwhile();
      const again = spawn(BINARY, args, { env, stdio: ['ignore', 'inherit', 'inherit'] });
      node.stop = async () => {
        again.kill('SIGTERM');
        await new Promise((done) => (again.exitCode !== null ? done() : again.once('exit', done)));
        rmSync(dir, { recursive: true, force: true });
      };
      await until('the node to answer again', async () => (await fetch(`${url}/health/live`)).ok);
    },
  };
  return node;
}
