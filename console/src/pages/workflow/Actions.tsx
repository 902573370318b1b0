// The workflow's own operator actions: pause, resume, cancel with or
// without compensation; shown only when the role and the state allow them.

import { useState } from 'preact/hooks';
import { post } from '../../api';
import { ProblemNote } from '../../components/bits';

export function Actions({ id, status, onChanged }: { id: string; status: string; onChanged: () => void }) {
  const [error, setError] = useState<unknown>(null);
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const run = async (what: string, body?: unknown) => {
    setBusy(true);
    setError(null);
    try {
      await post(`/api/v1/workflows/${id}/${what}`, body);
      setConfirming(false);
      onChanged();
    } catch (problem) {
      setError(problem);
    } finally {
      setBusy(false);
    }
  };
  const live = status === 'running' || status === 'paused';
  if (!live) return error ? <ProblemNote error={error} /> : null;
  return (
    <div class="actions" role="group" aria-label="Workflow actions">
      {status === 'running' && (
        <button type="button" disabled={busy} onClick={() => run('pause')}>
          Pause
        </button>
      )}
      {status === 'paused' && (
        <button type="button" disabled={busy} onClick={() => run('resume')}>
          Resume
        </button>
      )}
      {!confirming ? (
        <button type="button" class="bad" disabled={busy} onClick={() => setConfirming(true)}>
          Cancel…
        </button>
      ) : (
        <div class="confirm" role="alertdialog" aria-label="Cancel this workflow?">
          <span>Cancel this workflow?</span>
          <button type="button" class="bad" disabled={busy} onClick={() => run('cancel', { compensate: true })}>
            Cancel and compensate
          </button>
          <button type="button" class="bad" disabled={busy} onClick={() => run('cancel', { compensate: false })}>
            Cancel without compensation
          </button>
          <button type="button" class="quiet" onClick={() => setConfirming(false)}>
            Keep it running
          </button>
        </div>
      )}
      <ProblemNote error={error} />
    </div>
  );
}
