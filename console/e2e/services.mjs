// A database and a vhost of the test's own on the PostgreSQL and RabbitMQ
// that scripts/test found (DATABASE_URL, AMQP_URL), dropped afterwards.

import { execFileSync } from 'node:child_process';

export function services() {
  const databaseUrl = process.env.DATABASE_URL;
  const amqpUrl = process.env.AMQP_URL;
  if (!databaseUrl || !amqpUrl) throw new Error('the PostgreSQL + RabbitMQ run needs DATABASE_URL and AMQP_URL (scripts/test sets them)');
  for (const [tool, from] of [['psql', 'postgresql-client'], ['rabbitmqctl', 'rabbitmq-server']]) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      throw new Error(`the PostgreSQL + RabbitMQ run needs ${tool} (Debian: apt-get install ${from})`);
    }
  }
  const name = `console_e2e_${process.pid}_${Date.now()}`;
  execFileSync('psql', [databaseUrl, '-qc', `create database ${name}`]);
  const database = new URL(databaseUrl);
  database.pathname = `/${name}`;
  const ctl = (...args) => execFileSync('rabbitmqctl', [...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  ctl('add_vhost', name);
  const user = decodeURIComponent(new URL(amqpUrl).username || 'guest');
  ctl('set_permissions', '-p', name, user, '.*', '.*', '.*');
  const broker = new URL(amqpUrl);
  broker.pathname = `/${name}`;
  return {
    databaseUrl: database.toString(),
    amqpUrl: broker.toString(),
    drop() {
      try {
        execFileSync('psql', [databaseUrl, '-qc', `drop database if exists ${name} with (force)`]);
      } catch {}
      try {
        ctl('delete_vhost', name);
      } catch {}
    },
  };
}
