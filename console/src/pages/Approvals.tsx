import { useEffect, useState } from 'preact/hooks';
import { type Approval, get } from '../api';
import { IdLink, Json, ProblemNote, StatusBadge, Time } from '../components/bits';
import { Decide } from '../components/Decide';
import { may, useMe } from '../session';

export function Approvals() {
  const me = useMe();
  const [items, setItems] = useState<Approval[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState<Record<string, string>>({});
  const load = () =>
    get<{ items: Approval[] }>('/api/v1/approvals?decidable_by=me')
      .then((found) => {
        setItems(found.items);
        setError(null);
      })
      .catch(setError);
  useEffect(() => {
    void load();
    const timer = setInterval(load, 5000);
    return () => clearInterval(timer);
  }, []);
  return (
    <section>
      <h1>Approvals</h1>
      <p class="lead">Approvals waiting for a decision that you may decide, oldest first.</p>
      {!may(me, 'approve') && <p class="note">Your role ({me?.role}) may not decide approvals: this list stays empty.</p>}
      <ProblemNote error={error} />
      {!items && !error && <p role="status">Loading…</p>}
      {items && items.length === 0 && <p class="muted">Nothing waits for you.</p>}
      <ul class="approvals">
        {items?.map((a) => (
          <li key={a.task_id} class="card approval" aria-label={`approval ${a.step} of workflow ${a.workflow_id}`}>
            <div class="approval-head">
              <h2>
                {a.step} <span class="muted">in</span> <a href={`/definitions/${encodeURIComponent(a.definition)}`}>{a.definition}</a>
              </h2>
              <IdLink id={a.workflow_id} /> <StatusBadge status={a.status} />
            </div>
            {a.description && <p>{a.description}</p>}
            <dl class="facts">
              <dt>Requested</dt>
              <dd>
                <Time at={a.requested_at} />
              </dd>
              <dt>Due</dt>
              <dd>
                {a.due_at ? (
                  <>
                    <Time at={a.due_at} /> <span class="muted">(then it is {a.on_timeout === 'approve' ? 'approved' : 'rejected'})</span>
                  </>
                ) : (
                  'no deadline'
                )}
              </dd>
              <dt>Approvers</dt>
              <dd>{a.approvers.length ? a.approvers.join(', ') : 'anyone who may approve'}</dd>
            </dl>
            <details open>
              <summary>Input</summary>
              <Json value={a.input} label={`input of workflow ${a.workflow_id}`} />
            </details>
            {done[a.task_id] ? (
              <p class="ok" role="status">
                {done[a.task_id]}. The workflow continues.
              </p>
            ) : (
              a.decidable && (
                <Decide
                  taskId={a.task_id}
                  step={a.step}
                  onDone={(approved) => {
                    setDone({ ...done, [a.task_id]: approved ? 'Approved' : 'Rejected' });
                    setTimeout(load, 1500);
                  }}
                />
              )
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}
