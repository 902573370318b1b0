// Approve or reject an approval with a comment; the problem's detail shows
// when the node refuses.

import { useState } from 'preact/hooks';
import { post } from '../api';
import { ProblemNote } from './bits';

export function Decide({ taskId, step, onDone }: { taskId: string; step: string; onDone: (approved: boolean) => void }) {
  const [comment, setComment] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const id = `comment-${taskId.replace(/[^a-zA-Z0-9_-]/g, '-')}`;
  const decide = async (approve: boolean) => {
    setBusy(true);
    setError(null);
    try {
      await post(`/api/v1/tasks/${encodeURIComponent(taskId)}/${approve ? 'approve' : 'reject'}`, comment ? { comment } : null);
      onDone(approve);
    } catch (problem) {
      setError(problem);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="decide">
      <label for={id}>Comment on {step} (optional)</label>
      <input id={id} type="text" value={comment} onInput={(e) => setComment((e.target as HTMLInputElement).value)} />
      <div class="buttons">
        <button type="button" class="good" disabled={busy} onClick={() => decide(true)}>
          Approve
        </button>
        <button type="button" class="bad" disabled={busy} onClick={() => decide(false)}>
          Reject
        </button>
      </div>
      <ProblemNote error={error} />
    </div>
  );
}
