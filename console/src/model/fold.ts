// An instance's state as the fold of its events, as the engine's `evolve`
// computes it (domain/src/instance/evolve.rs): the graph shows this fold,
// and time travel is the fold of a prefix of the history.

import type { HistoryEvent } from './events';

export type StepStatus = 'pending' | 'scheduled' | 'running' | 'waiting' | 'completed' | 'failed' | 'skipped';
export type CompensationStatus = 'not_started' | 'scheduled' | 'completed' | 'failed' | 'retrying' | 'skipped';
export type Waiting =
  | { kind: 'approval'; due_at?: string }
  | { kind: 'retry'; attempt: number; at: string }
  | { kind: 'timer'; until: string };

export interface StepError {
  message: string;
  retryable: boolean;
}

export interface StepState {
  id: string;
  status: StepStatus;
  waiting?: Waiting;
  attempt: number;
  worker?: string;
  output?: unknown;
  error?: StepError;
  skip?: { kind: string; need?: string };
  input?: unknown;
  idempotency_key?: string;
  deadline?: string;
  scheduled_at?: string;
  started_at?: string;
  finished_at?: string;
  decision?: { approved: boolean; by: string; comment?: string };
  compensation: CompensationStatus;
  compensation_attempt: number;
  compensation_error?: StepError;
  compensation_retry_at?: string;
}

export type InstanceStatus =
  | 'not_started' | 'scheduled' | 'running' | 'paused' | 'compensating' | 'completed' | 'failed'
  | 'compensated' | 'compensation_failed' | 'cancelled';

export interface InstanceState {
  status: InstanceStatus;
  input?: unknown;
  output?: unknown;
  error?: string;
  cause?: { kind: string; step?: string; message?: string };
  cancel_requested?: { compensate: boolean; by: string; at: string };
  sla_breached: boolean;
  deadline?: string;
  started_at?: string;
  finished_at?: string;
  /** Events applied. */
  version: number;
  /** Step ids in definition order. */
  order: string[];
  steps: Record<string, StepState>;
}

export function initial(stepIds: string[]): InstanceState {
  const steps: Record<string, StepState> = {};
  for (const id of stepIds) steps[id] = { id, status: 'pending', attempt: 0, compensation: 'not_started', compensation_attempt: 0 };
  return { status: 'not_started', sla_breached: false, version: 0, order: [...stepIds], steps };
}

const FINAL: Record<string, InstanceStatus> = {
  WorkflowCompleted: 'completed',
  WorkflowFailed: 'failed',
  WorkflowCompensated: 'compensated',
  WorkflowCompensationFailed: 'compensation_failed',
  WorkflowCancelled: 'cancelled',
};

const TIMEOUT_MESSAGES: Record<string, string> = {
  attempt: 'the attempt timed out',
  heartbeat: 'the worker stopped sending heartbeats',
  approval: 'nobody decided the approval in time',
};

/**
 * The state after one more event. The state given is not changed; steps the
 * event does not touch keep their identity, so a view redraws only the
 * steps that changed.
 */
export function apply(state: InstanceState, event: HistoryEvent): InstanceState {
  const next: InstanceState = { ...state, version: state.version + 1 };
  const d = event.data;
  const at = event.occurred_at;
  const current = typeof d.step === 'string' ? state.steps[d.step] : undefined;
  const step = (change: Partial<StepState>) => {
    if (!current) return;
    next.steps = { ...state.steps, [current.id]: { ...current, ...change } };
  };
  switch (event.type) {
    case 'WorkflowStarted':
      next.status = d.start_at ? 'scheduled' : 'running';
      next.input = d.input;
      next.deadline = d.deadline;
      next.started_at = at;
      break;
    case 'ScheduledStartReached':
      next.status = 'running';
      break;
    case 'WorkflowSlaBreached':
      next.sla_breached = true;
      break;
    case 'StepScheduled':
      step({
        attempt: d.attempt,
        error: undefined,
        status: d.wake_at ? 'waiting' : 'scheduled',
        waiting: d.wake_at ? { kind: 'timer', until: d.wake_at } : undefined,
        input: d.input,
        idempotency_key: d.idempotency_key,
        deadline: d.deadline,
        scheduled_at: at,
        started_at: undefined,
        finished_at: undefined,
        worker: undefined,
      });
      break;
    case 'StepStarted':
      step({ status: 'running', worker: d.worker, started_at: at });
      break;
    case 'StepCompleted':
      step({ status: 'completed', attempt: d.attempt, waiting: undefined, output: d.output, finished_at: at });
      break;
    case 'StepFailed':
      step({ status: 'failed', attempt: d.attempt, waiting: undefined, error: d.error, finished_at: at });
      break;
    case 'StepTimedOut':
      step({
        status: 'failed',
        attempt: d.attempt,
        waiting: undefined,
        finished_at: at,
        error: { message: TIMEOUT_MESSAGES[d.timeout] ?? 'timed out', retryable: d.timeout !== 'approval' },
      });
      break;
    case 'StepRetryScheduled':
      step({ status: 'waiting', waiting: { kind: 'retry', attempt: d.attempt, at: d.at } });
      break;
    case 'StepSkipped':
      step({ status: 'skipped', waiting: undefined, skip: d.reason, output: d.output, finished_at: at });
      if (d.reason?.kind === 'operator' && state.status === 'failed') {
        next.status = 'running';
        next.error = undefined;
        next.finished_at = undefined;
      }
      break;
    case 'StepRetryRequested':
      step({ status: 'pending', error: undefined });
      next.status = 'running';
      next.error = undefined;
      next.finished_at = undefined;
      break;
    case 'ApprovalRequested':
      step({ status: 'waiting', attempt: d.attempt, waiting: { kind: 'approval', due_at: d.due_at }, scheduled_at: at, started_at: undefined, finished_at: undefined });
      break;
    case 'ApprovalGranted':
    case 'ApprovalRejected':
      step({ decision: { approved: event.type === 'ApprovalGranted', by: d.by, comment: d.comment } });
      break;
    case 'WorkflowPaused':
      next.status = 'paused';
      break;
    case 'WorkflowResumed':
      next.status = 'running';
      break;
    case 'CancellationRequested':
      next.cancel_requested = { compensate: !!d.compensate, by: event.actor, at };
      break;
    case 'CompensationStarted':
      next.status = 'compensating';
      next.cause = d.cause;
      break;
    case 'CompensationScheduled':
      step({ compensation: 'scheduled', compensation_attempt: d.attempt, compensation_retry_at: undefined });
      break;
    case 'CompensationCompleted':
      step({ compensation: 'completed' });
      break;
    case 'CompensationFailed':
      step({ compensation: 'failed', compensation_attempt: d.attempt, compensation_error: d.error });
      break;
    case 'CompensationRetryScheduled':
      step({ compensation: 'retrying', compensation_retry_at: d.at });
      break;
    case 'CompensationRetryRequested':
      step({ compensation: 'not_started' });
      next.status = 'compensating';
      break;
    case 'CompensationSkipped':
      step({ compensation: 'skipped' });
      next.status = 'compensating';
      break;
    case 'WorkflowCompleted':
      next.output = d.output;
      break;
    case 'WorkflowFailed':
      next.error = d.error;
      break;
  }
  const final = FINAL[event.type];
  if (final) {
    next.status = final;
    next.finished_at = at;
  }
  return next;
}

/** The state right after `events[0..count]`: all of them when `count` is absent. */
export function fold(stepIds: string[], events: HistoryEvent[], count = events.length): InstanceState {
  let state = initial(stepIds);
  for (let i = 0; i < count && i < events.length; i++) state = apply(state, events[i]);
  return state;
}
