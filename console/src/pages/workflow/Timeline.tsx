// The waterfall: one row per attempt, backoff, approval or compensation,
// placed on one time axis; then the timers still pending.

import type { Bar, PendingTimer } from '../../model/timeline';
import { Time, absolute, duration } from '../../components/bits';

const KIND_WORDS: Record<string, string> = {
  attempt: 'attempt',
  backoff: 'retry backoff',
  approval: 'approval waiting',
  wait: 'waiting (timer)',
  compensation: 'compensation',
  'compensation backoff': 'compensation backoff',
};

export function Timeline({ bars, timers, now, onSelect }: { bars: Bar[]; timers: PendingTimer[]; now: number; onSelect: (step: string) => void }) {
  if (bars.length === 0) return <p class="muted">No step has started yet.</p>;
  const time = (at: string) => new Date(at).getTime();
  // An open bar runs to now; never before its own start.
  now = Math.max(now, ...bars.map((b) => time(b.start)));
  const start = Math.min(...bars.map((b) => time(b.start)));
  const end = Math.max(now, ...bars.map((b) => time(b.end ?? b.start)));
  const span = Math.max(1, end - start);
  const at = (t: number) => `${(((t - start) / span) * 100).toFixed(3)}%`;
  return (
    <div class="timeline">
      <ol class="waterfall" aria-label="Every attempt, wait and compensation on one time axis">
        {bars.map((bar, index) => {
          const from = time(bar.start);
          const to = bar.end ? time(bar.end) : now;
          const started = bar.started ? time(bar.started) : undefined;
          const words = `${bar.step} · ${KIND_WORDS[bar.kind]} ${bar.attempt} · ${bar.outcome}`;
          return (
            <li key={index} class={`row k-${bar.kind.replace(/ /g, '-')} o-${bar.outcome.replace(/ /g, '-')}`}>
              <button type="button" class="row-label" onClick={() => onSelect(bar.step)} title={bar.detail ?? words}>
                <span class="row-step">{bar.step}</span> <span class="muted">{KIND_WORDS[bar.kind]} {bar.attempt}</span>
              </button>
              <div class="track" aria-hidden="true">
                <div class="span" style={{ left: at(from), width: `max(3px, ${(((to - from) / span) * 100).toFixed(3)}%)` }}>
                  {started !== undefined && <div class="queued" style={{ width: `${(((started - from) / Math.max(1, to - from)) * 100).toFixed(3)}%` }} />}
                </div>
              </div>
              <span class="row-outcome">
                {bar.outcome} <span class="muted">{duration(Math.max(0, to - from))}</span>
                {bar.detail && <span class="row-detail" title={bar.detail}> · {bar.detail}</span>}
              </span>
            </li>
          );
        })}
      </ol>
      <p class="muted small">
        From {absolute(new Date(start).toISOString())} to {absolute(new Date(end).toISOString())}. The lighter part of an attempt is its wait for a worker.
      </p>
      <h3>Pending timers</h3>
      {timers.length === 0 ? (
        <p class="muted">None.</p>
      ) : (
        <table class="timers">
          <thead>
            <tr>
              <th scope="col">Timer</th>
              <th scope="col">Step</th>
              <th scope="col">Fires</th>
            </tr>
          </thead>
          <tbody>
            {timers.map((t, i) => (
              <tr key={i}>
                <td>{t.what}</td>
                <td>{t.step ?? '—'}</td>
                <td>
                  <Time at={t.at} /> <span class="muted">({absolute(t.at)})</span>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
