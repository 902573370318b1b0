// One step in full: state, attempt, worker, progress, idempotency key,
// times, input, output, the error verbatim, and the operator's actions on
// it (retry, skip with an output, approve or reject) where they apply.

import { useState } from 'preact/hooks';
import { type GraphStep, type StepRow, post } from '../../api';
import { Json, ProblemNote, Time, absolute } from '../../components/bits';
import { Decide } from '../../components/Decide';
import { JsonEditor, parseJson } from '../../components/JsonEditor';
import type { InstanceState, StepState } from '../../model/fold';
import { shown, skipWords } from '../../model/words';

/** What an operator may do to a step, by the engine's command table. */
export function stepActions(state: InstanceState, step: StepState) {
  const running = state.status === 'running' || state.status === 'paused';
  const retry = (state.status === 'failed' && step.status === 'failed') || (state.status === 'compensation_failed' && step.compensation === 'failed');
  const skip =
    (running && (step.status === 'pending' || (step.status === 'waiting' && step.waiting?.kind !== 'timer'))) ||
    (state.status === 'failed' && step.status === 'failed') ||
    (state.status === 'compensation_failed' && step.compensation === 'failed');
  return { retry, skip };
}

function Row({ name, children }: { name: string; children: preact.ComponentChildren }) {
  return (
    <>
      <dt>{name}</dt>
      <dd>{children}</dd>
    </>
  );
}

export function StepPanel({
  workflowId, definition, state, step, row, live, canOperate, decidable, onChanged,
}: {
  workflowId: string; definition: GraphStep; state: InstanceState; step: StepState; row?: StepRow; live: boolean;
  canOperate: boolean; decidable: boolean; onChanged: () => void;
}) {
  const [error, setError] = useState<unknown>(null);
  const [skipText, setSkipText] = useState('{}');
  const [skipping, setSkipping] = useState(false);
  const [message, setMessage] = useState('');
  const taskId = `${workflowId}:${step.id}`;
  const act = async (what: 'retry' | 'skip') => {
    setError(null);
    setMessage('');
    try {
      const body = what === 'skip' ? { output: parseJson(skipText).value ?? null } : null;
      await post(`/api/v1/tasks/${encodeURIComponent(taskId)}/${what}`, body);
      setMessage(what === 'retry' ? 'Retry requested.' : 'Skipped.');
      setSkipping(false);
      onChanged();
    } catch (problem) {
      setError(problem);
    }
  };
  const actions = stepActions(state, step);
  const words = shown(step);
  return (
    <section class="card step-panel" aria-label={`Step ${step.id}`}>
      <h2>
        {step.id} <span class="muted">{definition.type}</span>
      </h2>
      {definition.description && <p>{definition.description}</p>}
      <dl class="facts">
        <Row name="State">
          <span class={`badge t-${words.replace(/ /g, '-')}`}>{words}</span>
          {step.status === 'skipped' && ` because ${skipWords(step.skip)}`}
        </Row>
        <Row name="Attempt">{step.attempt ? `${step.attempt} of ${definition.max_attempts}` : '—'}</Row>
        {definition.queue && <Row name="Queue"><code>{definition.queue}</code></Row>}
        <Row name="Worker">{step.worker ?? row?.worker ?? '—'}</Row>
        {step.status === 'running' && <Row name="Progress">{row?.progress !== undefined ? `${row.progress}%` : 'not reported'}</Row>}
        <Row name="Idempotency key">{step.idempotency_key ? <code>{step.idempotency_key}</code> : '—'}</Row>
        <Row name="Scheduled"><Time at={step.scheduled_at} /></Row>
        <Row name="Started"><Time at={step.started_at} /></Row>
        <Row name="Finished"><Time at={step.finished_at} /></Row>
        {step.deadline && (step.status === 'scheduled' || step.status === 'running') && <Row name="Times out">{absolute(step.deadline)}</Row>}
        {definition.when && <Row name="Condition"><code>{definition.when}</code></Row>}
        {definition.needs.length > 0 && <Row name="Needs">{definition.needs.join(', ')} <span class="muted">(join: {definition.join})</span></Row>}
        <Row name="On error">{definition.on_error}</Row>
        {definition.approvers && <Row name="Approvers">{definition.approvers.length ? definition.approvers.join(', ') : 'anyone who may approve'}</Row>}
        {step.decision && <Row name="Decision">{step.decision.approved ? 'approved' : 'rejected'} by {step.decision.by}{step.decision.comment ? `: “${step.decision.comment}”` : ''}</Row>}
        {definition.compensated && (
          <Row name="Compensation">
            {step.compensation.replace(/_/g, ' ')}
            {step.compensation_attempt ? ` (attempt ${step.compensation_attempt})` : ''} <span class="muted">on {definition.compensation_queue}</span>
          </Row>
        )}
      </dl>
      {step.error && (
        <div class="step-error">
          <h3>Error of attempt {step.attempt}{step.error.retryable ? ' (retryable)' : ' (permanent)'}</h3>
          <pre class="verbatim">{step.error.message}</pre>
        </div>
      )}
      {step.compensation_error && step.compensation === 'failed' && (
        <div class="step-error">
          <h3>Error of compensation attempt {step.compensation_attempt}</h3>
          <pre class="verbatim">{step.compensation_error.message}</pre>
        </div>
      )}
      <details open={step.input !== undefined}>
        <summary>Input</summary>
        <Json value={step.input} label={`input of ${step.id}`} />
      </details>
      <details open={step.output !== undefined}>
        <summary>Output</summary>
        <Json value={step.output} label={`output of ${step.id}`} />
      </details>
      {live && (
        <div class="step-actions">
          {decidable && step.status === 'waiting' && step.waiting?.kind === 'approval' && <Decide taskId={taskId} step={step.id} onDone={() => onChanged()} />}
          {canOperate && actions.retry && (
            <button type="button" onClick={() => act('retry')}>
              {step.compensation === 'failed' ? 'Retry its compensation' : 'Retry this step'}
            </button>
          )}
          {canOperate && actions.skip && !skipping && (
            <button type="button" onClick={() => setSkipping(true)}>
              {step.compensation === 'failed' ? 'Skip its compensation' : 'Skip this step…'}
            </button>
          )}
          {skipping && (
            <form
              class="skip-form"
              onSubmit={(e) => {
                e.preventDefault();
                void act('skip');
              }}
            >
              <JsonEditor id={`skip-${step.id}`} label={`Output of ${step.id} when skipped (JSON)`} value={skipText} onChange={setSkipText} />
              <div class="buttons">
                <button type="submit" disabled={!!parseJson(skipText).error}>
                  Skip with this output
                </button>
                <button type="button" class="quiet" onClick={() => setSkipping(false)}>
                  Keep it
                </button>
              </div>
            </form>
          )}
          {message && <p class="ok" role="status">{message}</p>}
          <ProblemNote error={error} />
        </div>
      )}
    </section>
  );
}
