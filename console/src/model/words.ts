// State names as people read them: the API's words in plain English.

import type { InstanceStatus, StepState } from './fold';

/** What a step shows: its forward state, or its compensation once one began. */
export type StepShown =
  | 'pending' | 'scheduled' | 'running' | 'waiting for approval' | 'waiting for retry' | 'waiting'
  | 'completed' | 'failed' | 'skipped' | 'compensating' | 'compensated' | 'compensation failed'
  | 'compensation skipped';

export const ALL_SHOWN: StepShown[] = [
  'pending', 'scheduled', 'running', 'waiting for approval', 'waiting for retry', 'waiting',
  'completed', 'failed', 'skipped', 'compensating', 'compensated', 'compensation failed', 'compensation skipped',
];

export function shown(step: StepState): StepShown {
  switch (step.compensation) {
    case 'scheduled':
    case 'retrying':
      return 'compensating';
    case 'completed':
      return 'compensated';
    case 'failed':
      return 'compensation failed';
    case 'skipped':
      return 'compensation skipped';
  }
  if (step.status === 'waiting') {
    if (step.waiting?.kind === 'approval') return 'waiting for approval';
    if (step.waiting?.kind === 'retry') return 'waiting for retry';
    return 'waiting';
  }
  return step.status;
}

/** A CSS-friendly key of a shown state. */
export function tone(state: string): string {
  return state.replace(/ /g, '-');
}

export const STATUS_WORDS: Record<InstanceStatus | string, string> = {
  not_started: 'not started',
  scheduled: 'scheduled',
  running: 'running',
  paused: 'paused',
  compensating: 'compensating',
  completed: 'completed',
  failed: 'failed',
  compensated: 'compensated',
  compensation_failed: 'compensation failed',
  cancelled: 'cancelled',
};

export function statusWords(status: string): string {
  return STATUS_WORDS[status] ?? status.replace(/_/g, ' ');
}

export const STATUSES = ['running', 'paused', 'compensating', 'completed', 'failed', 'compensated', 'compensation_failed', 'cancelled'];

export function skipWords(skip?: { kind: string; need?: string }): string {
  if (!skip) return '';
  if (skip.kind === 'condition_false') return 'its condition was false';
  if (skip.kind === 'upstream_skipped') return `${skip.need ?? 'a need'} was skipped`;
  if (skip.kind === 'operator') return 'an operator skipped it';
  return skip.kind.replace(/_/g, ' ');
}

/** The same, short enough for a graph node. */
export function skipShort(skip?: { kind: string; need?: string }): string {
  if (!skip) return '';
  if (skip.kind === 'condition_false') return 'condition false';
  if (skip.kind === 'upstream_skipped') return `${skip.need ?? 'a need'} skipped`;
  if (skip.kind === 'operator') return 'by an operator';
  return skip.kind.replace(/_/g, ' ');
}

/** UUIDv7 ids share their leading digits when started together: shorten from the end. */
export function shortId(id: string): string {
  return '…' + id.replace(/-/g, '').slice(-8);
}
