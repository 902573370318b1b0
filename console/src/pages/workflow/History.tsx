// Every event with its actor and time; choosing one shows the graph as it
// was right after it (the fold of the history up to there).

import type { HistoryEvent } from '../../model/events';
import { absolute } from '../../components/bits';

const CLOCK = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit', fractionalSecondDigits: 3 });

function clock(at: string): string {
  return CLOCK.format(new Date(at));
}

function summary(e: HistoryEvent): string {
  const d = e.data;
  const parts: string[] = [];
  if (d.step) parts.push(String(d.step));
  if (d.attempt) parts.push(`attempt ${d.attempt}`);
  if (d.error?.message) parts.push(d.error.message);
  if (typeof d.error === 'string') parts.push(d.error);
  if (d.worker) parts.push(`worker ${d.worker}`);
  if (d.by) parts.push(`by ${d.by}`);
  if (d.comment) parts.push(`“${d.comment}”`);
  if (d.reason?.kind) parts.push(String(d.reason.kind).replace(/_/g, ' '));
  if (d.cause?.kind) parts.push(`cause: ${String(d.cause.kind).replace(/_/g, ' ')}${d.cause.step ? ` ${d.cause.step}` : ''}`);
  if (e.type === 'CancellationRequested') parts.push(d.compensate ? 'with compensation' : 'without compensation');
  return parts.join(' · ');
}

export function History({ events, at, onPick }: { events: HistoryEvent[]; at: number | null; onPick: (index: number | null) => void }) {
  return (
    <div class="history">
      <p class="muted small">Choose an event to see the graph as it was right after it.</p>
      <table>
        <thead>
          <tr>
            <th scope="col">#</th>
            <th scope="col">Event</th>
            <th scope="col">Details</th>
            <th scope="col">Actor</th>
            <th scope="col">Time</th>
          </tr>
        </thead>
        <tbody>
          {events.map((e, index) => (
            <tr key={e.position} class={at === index ? 'picked' : ''} aria-current={at === index ? 'true' : undefined}>
              <td>{e.version}</td>
              <td>
                <button type="button" class="link-button" onClick={() => onPick(at === index ? null : index)} aria-label={`Show the graph right after event ${e.version}, ${e.type}`}>
                  {e.type}
                </button>
              </td>
              <td class="details">{summary(e)}</td>
              <td class="actor">{e.actor}</td>
              <td>
                <time dateTime={e.occurred_at} title={absolute(e.occurred_at)}>
                  {clock(e.occurred_at)}
                </time>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
