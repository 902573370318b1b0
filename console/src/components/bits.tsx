// Small pieces every page uses: status badges, ids, times, JSON, problems.

import { Problem } from '../api';
import { shortId, statusWords, tone } from '../model/words';

export function StatusBadge({ status }: { status: string }) {
  const words = statusWords(status);
  return <span class={`badge s-${tone(words)}`}>{words}</span>;
}

export function IdLink({ id }: { id: string }) {
  return (
    <a href={`/workflows/${id}`} class="id" title={`workflow ${id}`}>
      <code>{shortId(id)}</code>
    </a>
  );
}

const formatter = new Intl.DateTimeFormat(undefined, { dateStyle: 'short', timeStyle: 'medium' });

export function absolute(at: string): string {
  return formatter.format(new Date(at));
}

export function relative(at: string, now = Date.now()): string {
  const seconds = Math.round((new Date(at).getTime() - now) / 1000);
  const size = Math.abs(seconds);
  const [value, unit] =
    size < 60 ? [seconds, 'second'] : size < 3600 ? [Math.round(seconds / 60), 'minute'] : size < 86400 ? [Math.round(seconds / 3600), 'hour'] : [Math.round(seconds / 86400), 'day'];
  return new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' }).format(value, unit as Intl.RelativeTimeFormatUnit);
}

export function Time({ at }: { at?: string | null }) {
  if (!at) return <span class="muted">—</span>;
  return (
    <time dateTime={at} title={absolute(at)}>
      {relative(at)}
    </time>
  );
}

export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
  return `${Math.floor(ms / 3_600_000)} h ${Math.round((ms % 3_600_000) / 60_000)} min`;
}

export function Json({ value, label }: { value: unknown; label?: string }) {
  if (value === undefined) return <span class="muted">—</span>;
  return (
    <pre class="json" aria-label={label} tabIndex={0}>
      {JSON.stringify(value, null, 2)}
    </pre>
  );
}

export function ProblemNote({ error }: { error: unknown }) {
  if (!error) return null;
  const problem = error instanceof Problem ? error : null;
  return (
    <div class="error" role="alert">
      <p>{problem ? problem.detail : String(error)}</p>
      {problem && problem.problems.length > 0 && (
        <ul>
          {problem.problems.map((p, i) => (
            <li key={i}>{p.message}</li>
          ))}
        </ul>
      )}
    </div>
  );
}
