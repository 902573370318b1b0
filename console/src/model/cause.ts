// Why an instance ended, in one sentence: which step, which attempt, what
// error (verbatim), who cancelled. Read from the history alone.

import type { HistoryEvent } from './events';

function lastFailure(events: HistoryEvent[], step: string): HistoryEvent | undefined {
  for (let i = events.length - 1; i >= 0; i--) {
    const e = events[i];
    if (e.data.step !== step) continue;
    if (e.type === 'StepFailed' || e.type === 'StepTimedOut' || e.type === 'ApprovalRejected') return e;
  }
  return undefined;
}

const TIMEOUTS: Record<string, string> = {
  attempt: 'timed out',
  heartbeat: 'stopped sending heartbeats',
  approval: 'was not decided in time',
};

/** "step X failed on attempt N: message" for the failure that started it all. */
function stepFailure(events: HistoryEvent[], step: string): string {
  const failure = lastFailure(events, step);
  if (!failure) return `step ${step} failed`;
  if (failure.type === 'ApprovalRejected') {
    const comment = failure.data.comment ? `: “${failure.data.comment}”` : '';
    return `approval ${step} was rejected by ${failure.data.by}${comment}`;
  }
  // A rejection is followed by its StepFailed; name the rejection instead.
  const rejected = events.find((e) => e.type === 'ApprovalRejected' && e.data.step === step && e.position < failure.position && !events.some((x) => x.position > e.position && x.position < failure.position && x.data.step === step && x.type === 'ApprovalRequested'));
  if (rejected && failure.type === 'StepFailed' && failure.position - rejected.position <= 1) {
    const comment = rejected.data.comment ? `: “${rejected.data.comment}”` : '';
    return `approval ${step} was rejected by ${rejected.data.by}${comment}`;
  }
  if (failure.type === 'StepTimedOut') return `step ${step} ${TIMEOUTS[failure.data.timeout] ?? 'timed out'} on attempt ${failure.data.attempt}`;
  return `step ${step} failed on attempt ${failure.data.attempt}: ${failure.data.error?.message ?? 'no message'}`;
}

function startCause(events: HistoryEvent[]): string {
  const started = events.find((e) => e.type === 'CompensationStarted');
  const cause = started?.data.cause;
  if (!cause) return 'compensation started';
  switch (cause.kind) {
    case 'step_failed':
      return stepFailure(events, cause.step);
    case 'workflow_timed_out':
      return 'the workflow ran past its deadline';
    case 'cancelled':
      return cancelWords(events);
    case 'output_failed':
      return `its output could not be rendered: ${cause.message}`;
  }
  return String(cause.kind).replace(/_/g, ' ');
}

function cancelWords(events: HistoryEvent[]): string {
  const request = events.find((e) => e.type === 'CancellationRequested');
  if (!request) return 'it was cancelled';
  const how = request.data.compensate ? 'with compensation' : 'without compensation';
  return `${request.actor || 'someone'} cancelled it ${how}`;
}

function capital(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** The sentence for a failed, compensated, cancelled or compensation-failed instance; null otherwise. */
export function whyItEnded(status: string, events: HistoryEvent[]): string | null {
  switch (status) {
    case 'failed': {
      const failed = [...events].reverse().find((e) => e.type === 'WorkflowFailed');
      const lastStepFailure = [...events].reverse().find((e) => e.type === 'StepFailed' || e.type === 'StepTimedOut');
      if (lastStepFailure?.data.step) return `Failed because ${stepFailure(events, lastStepFailure.data.step)}.`;
      return `Failed: ${failed?.data.error ?? 'no error recorded'}.`;
    }
    case 'compensated':
      return `Compensated because ${startCause(events)}.`;
    case 'cancelled':
      return `Cancelled: ${cancelWords(events)}.`;
    case 'compensation_failed': {
      const compensationFailure = [...events].reverse().find((e) => e.type === 'CompensationFailed');
      const what = compensationFailure
        ? `the compensation of ${compensationFailure.data.step} failed on attempt ${compensationFailure.data.attempt}: ${compensationFailure.data.error?.message ?? 'no message'}`
        : 'a compensation failed';
      return `${capital(what)} (compensating because ${startCause(events)}); it waits for an operator to retry or skip it.`;
    }
  }
  return null;
}
