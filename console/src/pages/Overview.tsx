import { useEffect, useState } from 'preact/hooks';
import { type Overview as OverviewData, get } from '../api';
import { ProblemNote, Time, relative } from '../components/bits';
import { STATUSES, statusWords, tone } from '../model/words';

function Tile({ label, value, href, alert }: { label: string; value: number; href?: string; alert?: boolean }) {
  const body = (
    <>
      <span class="tile-value">{value.toLocaleString()}</span>
      <span class="tile-label">{label}</span>
    </>
  );
  return <li class={`tile${alert && value > 0 ? ' tile-alert' : ''}`}>{href ? <a href={href}>{body}</a> : body}</li>;
}

function Activity({ minutes }: { minutes: OverviewData['minutes'] }) {
  const finished = (m: OverviewData['minutes'][number]) => Object.values(m.finished).reduce((a, b) => a + b, 0);
  const max = Math.max(1, ...minutes.map((m) => Math.max(m.started, finished(m))));
  const width = 12;
  const height = 120;
  const total = minutes.reduce((a, m) => a + m.started, 0);
  const done = minutes.reduce((a, m) => a + (m.finished.completed ?? 0), 0);
  return (
    <figure class="activity">
      <svg viewBox={`0 0 ${minutes.length * width} ${height}`} role="img" aria-label={`Started and completed per minute over the last hour: ${total} started, ${done} completed`} preserveAspectRatio="none">
        {minutes.map((m, i) => {
          const s = (m.started / max) * (height - 4);
          const c = ((m.finished.completed ?? 0) / max) * (height - 4);
          return (
            <g key={m.at}>
              <title>{`${new Date(m.at).toLocaleTimeString()}: ${m.started} started, ${m.finished.completed ?? 0} completed, ${finished(m) - (m.finished.completed ?? 0)} ended otherwise`}</title>
              <rect class="bar-started" x={i * width + 1} y={height - s} width={width / 2 - 1} height={s} />
              <rect class="bar-completed" x={i * width + width / 2} y={height - c} width={width / 2 - 1} height={c} />
            </g>
          );
        })}
      </svg>
      <div class="axis" aria-hidden="true">
        <span>60 min ago</span>
        <span>30 min ago</span>
        <span>now</span>
      </div>
      <figcaption>
        <span class="key key-started">started</span> <span class="key key-completed">completed</span> per minute, last 60 minutes
      </figcaption>
    </figure>
  );
}

export function Overview() {
  const [data, setData] = useState<OverviewData | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    let stop = false;
    const load = async () => {
      try {
        const found = await get<OverviewData>('/api/v1/overview');
        if (!stop) {
          setData(found);
          setError(null);
        }
      } catch (problem) {
        if (!stop) setError(problem);
      }
    };
    void load();
    const timer = setInterval(load, 5000);
    return () => {
      stop = true;
      clearInterval(timer);
    };
  }, []);
  const counts = data?.counts ?? {};
  const hour = data?.last_hour ?? {};
  return (
    <section>
      <h1>Overview</h1>
      <ProblemNote error={error} />
      {!data && !error && <p role="status">Loading…</p>}
      {data && (
        <>
          <ul class="tiles" aria-label="Now">
            <Tile label="running now" value={counts.running ?? 0} href="/workflows?status=running" />
            <Tile label="approvals waiting" value={data.approvals_waiting} href="/approvals" alert />
            <Tile label="compensating now" value={counts.compensating ?? 0} href="/workflows?status=compensating" />
            <Tile label="failed in the last hour" value={hour.failed ?? 0} href="/workflows?status=failed" alert />
            <Tile label="compensated in the last hour" value={hour.compensated ?? 0} href="/workflows?status=compensated" alert />
            <Tile label="compensation failed (waiting for an operator)" value={counts.compensation_failed ?? 0} href="/workflows?status=compensation_failed" alert />
          </ul>
          <div class="columns">
            <section class="card">
              <h2>Started and completed per minute</h2>
              <Activity minutes={data.minutes} />
            </section>
            <section class="card">
              <h2>Instances by status</h2>
              <table>
                <thead>
                  <tr>
                    <th scope="col">Status</th>
                    <th scope="col" class="num">Instances</th>
                    <th scope="col" class="num">Last hour</th>
                  </tr>
                </thead>
                <tbody>
                  {STATUSES.map((status) => (
                    <tr key={status}>
                      <td>
                        <a href={`/workflows?status=${status}`} class={`badge s-${tone(statusWords(status))}`}>
                          {statusWords(status)}
                        </a>
                      </td>
                      <td class="num">{(counts[status] ?? 0).toLocaleString()}</td>
                      <td class="num">{hour[status] !== undefined ? hour[status].toLocaleString() : '—'}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </section>
          </div>
          <section class="card">
            <h2>Oldest task waiting per queue</h2>
            {data.queues.length === 0 ? (
              <p class="muted">No task is waiting for a worker.</p>
            ) : (
              <table>
                <thead>
                  <tr>
                    <th scope="col">Queue</th>
                    <th scope="col" class="num">Waiting</th>
                    <th scope="col">Oldest waiting since</th>
                  </tr>
                </thead>
                <tbody>
                  {data.queues.map((q) => (
                    <tr key={q.queue}>
                      <td>
                        <code>{q.queue}</code>
                      </td>
                      <td class="num">{q.waiting.toLocaleString()}</td>
                      <td>
                        <Time at={q.oldest_scheduled_at} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </section>
          <p class="muted small">Updated {relative(data.at)}; refreshes every 5 seconds.</p>
        </>
      )}
    </section>
  );
}
