import { useEffect, useRef, useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { type DefinitionItem, type Workflow, type WorkflowPage, get, query } from '../api';
import { IdLink, ProblemNote, StatusBadge, Time } from '../components/bits';
import { reportLink } from '../components/LinkStatus';
import { STATUSES, statusWords } from '../model/words';
import { follow } from '../sse';

/** Status each event type leaves an instance in (for in-place updates). */
const STATUS_OF: Record<string, string> = {
  WorkflowStarted: 'running',
  WorkflowPaused: 'paused',
  WorkflowResumed: 'running',
  CompensationStarted: 'compensating',
  WorkflowCompleted: 'completed',
  WorkflowFailed: 'failed',
  WorkflowCompensated: 'compensated',
  WorkflowCompensationFailed: 'compensation_failed',
  WorkflowCancelled: 'cancelled',
  StepRetryRequested: 'running',
  CompensationRetryRequested: 'compensating',
  CompensationSkipped: 'compensating',
};
const FINAL = new Set(['completed', 'failed', 'compensated', 'compensation_failed', 'cancelled']);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function toLocalInput(iso?: string): string {
  if (!iso) return '';
  const at = new Date(iso);
  const local = new Date(at.getTime() - at.getTimezoneOffset() * 60_000);
  return local.toISOString().slice(0, 16);
}

function fromLocalInput(value: string): string | undefined {
  return value ? new Date(value).toISOString() : undefined;
}

export function Workflows() {
  const location = useLocation();
  const q = location.query;
  const [page, setPage] = useState<WorkflowPage | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [definitions, setDefinitions] = useState<DefinitionItem[]>([]);
  const [idText, setIdText] = useState('');
  const [idError, setIdError] = useState('');
  const [cursors, setCursors] = useState<string[]>([]);
  const rows = useRef<Workflow[]>([]);

  const setQuery = (change: Record<string, string | undefined>) => {
    const next = { ...q, ...change };
    if (!('cursor' in change)) delete next.cursor;
    location.route(`/workflows${query(next)}`);
  };

  useEffect(() => {
    get<{ items: DefinitionItem[] }>('/api/v1/definitions').then((d) => setDefinitions(d.items)).catch(() => {});
  }, []);

  useEffect(() => {
    let stop = false;
    setError(null);
    get<WorkflowPage>(`/api/v1/workflows${query({ status: q.status, definition: q.definition, created_after: q.after, created_before: q.before, cursor: q.cursor, limit: 50 })}`)
      .then((found) => {
        if (stop) return;
        rows.current = found.items;
        setPage(found);
      })
      .catch((problem) => !stop && setError(problem));
    return () => {
      stop = true;
    };
  }, [q.status, q.definition, q.after, q.before, q.cursor]);

  // Live: a new instance appears on the first page, a status changes in place.
  useEffect(() => {
    if (!page) return;
    let pending: { type: string; id: string; data: Record<string, unknown>; at: string }[] = [];
    let frame = 0;
    const flush = () => {
      frame = 0;
      let list = rows.current;
      for (const e of pending) {
        const status = STATUS_OF[e.type];
        if (e.type === 'WorkflowStarted') {
          if (q.cursor || q.before || (q.status && q.status !== 'running') || list.some((w) => w.id === e.id)) continue;
          list = [{ id: e.id, definition: String(e.data.definition), version: Number(e.data.version), status: 'running', input: e.data.input, created_at: e.at, updated_at: e.at, current_steps: [] }, ...list].slice(0, 50);
        } else if (status) {
          list = list.map((w) => (w.id === e.id ? { ...w, status, updated_at: e.at, finished_at: FINAL.has(status) ? e.at : w.finished_at } : w));
        }
      }
      pending = [];
      rows.current = list;
      setPage((old) => (old ? { ...old, items: list } : old));
    };
    const feed = follow(
      `/api/v1/events/stream${query({ types: Object.keys(STATUS_OF).join(','), definition: q.definition })}`,
      (item: any) => {
        pending.push({ type: item.type, id: item.stream_id, data: item.data ?? {}, at: item.metadata?.occurred_at ?? item.recorded_at });
        if (!frame) frame = requestAnimationFrame(flush);
      },
      reportLink,
    );
    return () => {
      feed.close();
      cancelAnimationFrame(frame);
      reportLink(null);
    };
  }, [page === null, q.status, q.definition, q.after, q.before, q.cursor]);

  const findId = (event: Event) => {
    event.preventDefault();
    const id = idText.trim();
    if (!UUID.test(id)) {
      setIdError('A workflow id is a UUID, like 019a…-…; paste the whole id.');
      return;
    }
    location.route(`/workflows/${id.toLowerCase()}`);
  };

  return (
    <section>
      <h1>Workflows</h1>
      <form class="filters" onSubmit={findId} aria-label="Filters">
        <label>
          Definition
          <select value={q.definition ?? ''} onChange={(e) => setQuery({ definition: (e.target as HTMLSelectElement).value || undefined })}>
            <option value="">all</option>
            {definitions.map((d) => (
              <option key={d.name} value={d.name}>
                {d.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          Status
          <select value={q.status ?? ''} onChange={(e) => setQuery({ status: (e.target as HTMLSelectElement).value || undefined })}>
            <option value="">all</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {statusWords(s)}
              </option>
            ))}
          </select>
        </label>
        <label>
          Created after
          <input type="datetime-local" value={toLocalInput(q.after)} onChange={(e) => setQuery({ after: fromLocalInput((e.target as HTMLInputElement).value) })} />
        </label>
        <label>
          Created before
          <input type="datetime-local" value={toLocalInput(q.before)} onChange={(e) => setQuery({ before: fromLocalInput((e.target as HTMLInputElement).value) })} />
        </label>
        <label class="grow">
          Workflow id
          <input type="search" placeholder="paste a workflow id" value={idText} onInput={(e) => { setIdText((e.target as HTMLInputElement).value); setIdError(''); }} aria-describedby="id-error" />
        </label>
        <button type="submit">Open</button>
        <p id="id-error" class="error-text" aria-live="polite">{idError}</p>
      </form>
      <ProblemNote error={error} />
      {!page && !error && <p role="status">Loading…</p>}
      {page && (
        <>
          <table class="list" aria-label="Workflows, newest first">
            <thead>
              <tr>
                <th scope="col">Id</th>
                <th scope="col">Definition</th>
                <th scope="col">Status</th>
                <th scope="col">Current steps</th>
                <th scope="col">Created</th>
                <th scope="col">Updated</th>
              </tr>
            </thead>
            <tbody>
              {page.items.length === 0 && (
                <tr>
                  <td colSpan={6} class="muted">
                    No workflow matches these filters.
                  </td>
                </tr>
              )}
              {page.items.map((w) => (
                <tr key={w.id} data-id={w.id}>
                  <td>
                    <IdLink id={w.id} />
                  </td>
                  <td>
                    <a href={`/definitions/${encodeURIComponent(w.definition)}`}>{w.definition}</a> <span class="muted">v{w.version}</span>
                  </td>
                  <td>
                    <StatusBadge status={w.status} />
                  </td>
                  <td class="steps-cell">{(!FINAL.has(w.status) && (w.current_steps ?? []).join(', ')) || <span class="muted">—</span>}</td>
                  <td>
                    <Time at={w.created_at} />
                  </td>
                  <td>
                    <Time at={w.updated_at} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <nav class="pager" aria-label="Pages">
            <button type="button" disabled={!q.cursor} onClick={() => { const back = cursors.slice(0, -1); setCursors(back); setQuery({ cursor: back[back.length - 1] }); }}>
              Previous page
            </button>
            <button type="button" disabled={!page.next_cursor} onClick={() => { setCursors([...cursors, page.next_cursor!]); setQuery({ cursor: page.next_cursor! }); }}>
              Next page
            </button>
          </nav>
        </>
      )}
    </section>
  );
}
