// The waterfall of an instance: every attempt of every step and every
// compensation, the backoff waits between them, approvals waiting, and the
// timers still pending with the time they fire. Read from the history.

import type { HistoryEvent } from './events';
import type { InstanceState } from './fold';

export type BarKind = 'attempt' | 'backoff' | 'approval' | 'wait' | 'compensation' | 'compensation backoff';
export type Outcome = 'queued' | 'running' | 'completed' | 'failed' | 'timed out' | 'waiting' | 'approved' | 'rejected' | 'skipped' | 'done' | 'abandoned';

export interface Bar {
  step: string;
  kind: BarKind;
  attempt: number;
  start: string;
  /** When a worker started it (attempts). */
  started?: string;
  end?: string;
  outcome: Outcome;
  detail?: string;
}

export interface PendingTimer {
  what: string;
  step?: string;
  at: string;
}

const FINAL = new Set(['WorkflowCompleted', 'WorkflowFailed', 'WorkflowCompensated', 'WorkflowCompensationFailed', 'WorkflowCancelled']);

export function bars(events: HistoryEvent[]): Bar[] {
  const all: Bar[] = [];
  const open = new Map<string, Bar>();
  const begin = (key: string, bar: Bar) => {
    all.push(bar);
    open.set(key, bar);
  };
  const close = (key: string, at: string, outcome: Outcome, detail?: string) => {
    const bar = open.get(key);
    if (!bar) return;
    bar.end = at;
    bar.outcome = outcome;
    if (detail) bar.detail = detail;
    open.delete(key);
  };
  for (const e of events) {
    const d = e.data;
    const at = e.occurred_at;
    const s = d.step as string;
    switch (e.type) {
      case 'StepScheduled':
        close(`b:${s}`, at, 'done');
        begin(`f:${s}`, { step: s, kind: d.wake_at ? 'wait' : 'attempt', attempt: d.attempt, start: at, outcome: d.wake_at ? 'waiting' : 'queued', end: undefined });
        break;
      case 'StepStarted': {
        const bar = open.get(`f:${s}`);
        if (bar) {
          bar.started = at;
          bar.outcome = 'running';
          if (d.worker) bar.detail = `worker ${d.worker}`;
        }
        break;
      }
      case 'StepCompleted':
        close(`f:${s}`, at, 'completed');
        close(`a:${s}`, at, 'approved');
        break;
      case 'StepFailed':
        close(`f:${s}`, at, 'failed', d.error?.message);
        close(`a:${s}`, at, 'rejected');
        break;
      case 'StepTimedOut':
        close(`f:${s}`, at, 'timed out', `${d.timeout} timeout`);
        close(`a:${s}`, at, 'timed out', 'approval deadline');
        break;
      case 'StepRetryScheduled':
        begin(`b:${s}`, { step: s, kind: 'backoff', attempt: d.attempt, start: at, end: d.at, outcome: 'waiting', detail: `retry ${d.attempt} at ${d.at}` });
        break;
      case 'StepSkipped':
        close(`b:${s}`, at, 'skipped');
        close(`a:${s}`, at, 'skipped');
        close(`f:${s}`, at, 'skipped');
        break;
      case 'ApprovalRequested':
        begin(`a:${s}`, { step: s, kind: 'approval', attempt: d.attempt, start: at, outcome: 'waiting', detail: d.approvers?.length ? `approvers ${d.approvers.join(', ')}` : undefined });
        break;
      case 'ApprovalGranted':
        close(`a:${s}`, at, 'approved', `by ${d.by}${d.comment ? `: ${d.comment}` : ''}`);
        break;
      case 'ApprovalRejected':
        close(`a:${s}`, at, 'rejected', `by ${d.by}${d.comment ? `: ${d.comment}` : ''}`);
        break;
      case 'CompensationScheduled':
        close(`cb:${s}`, at, 'done');
        begin(`c:${s}`, { step: s, kind: 'compensation', attempt: d.attempt, start: at, outcome: 'running' });
        break;
      case 'CompensationCompleted':
        close(`c:${s}`, at, 'completed');
        break;
      case 'CompensationFailed':
        close(`c:${s}`, at, 'failed', d.error?.message);
        break;
      case 'CompensationRetryScheduled':
        begin(`cb:${s}`, { step: s, kind: 'compensation backoff', attempt: d.attempt, start: at, end: d.at, outcome: 'waiting', detail: `retry ${d.attempt} at ${d.at}` });
        break;
      case 'CompensationSkipped':
        close(`c:${s}`, at, 'skipped');
        break;
    }
    if (FINAL.has(e.type)) {
      for (const key of [...open.keys()]) close(key, at, 'abandoned');
    }
  }
  return all;
}

/** Timers set by events that still apply in this state, soonest first. */
export function pendingTimers(state: InstanceState): PendingTimer[] {
  const timers: PendingTimer[] = [];
  const live = state.status === 'running' || state.status === 'paused' || state.status === 'compensating';
  if (!live) return timers;
  if (state.deadline && state.status !== 'compensating') timers.push({ what: 'workflow deadline', at: state.deadline });
  for (const id of state.order) {
    const step = state.steps[id];
    if (step.status === 'waiting' && step.waiting?.kind === 'retry') timers.push({ what: `retry (attempt ${step.waiting.attempt})`, step: id, at: step.waiting.at });
    if (step.status === 'waiting' && step.waiting?.kind === 'timer') timers.push({ what: 'wait ends', step: id, at: step.waiting.until });
    if (step.status === 'waiting' && step.waiting?.kind === 'approval' && step.waiting.due_at) timers.push({ what: 'approval deadline', step: id, at: step.waiting.due_at });
    if ((step.status === 'scheduled' || step.status === 'running') && step.deadline) timers.push({ what: `attempt ${step.attempt} timeout`, step: id, at: step.deadline });
    if (step.compensation === 'retrying' && step.compensation_retry_at) timers.push({ what: 'compensation retry', step: id, at: step.compensation_retry_at });
  }
  return timers.sort((a, b) => a.at.localeCompare(b.at));
}
