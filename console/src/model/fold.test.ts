import { describe, expect, it } from 'vitest';
import type { HistoryEvent } from './events';
import { apply, fold, initial } from './fold';
import { ALL_SHOWN, shown, type StepShown } from './words';
import { whyItEnded } from './cause';
import { bars, pendingTimers } from './timeline';

let position = 0;
function ev(type: string, data: Record<string, unknown> = {}, actor = 'engine'): HistoryEvent {
  position += 1;
  return { position, version: position, type, data: { type, ...data }, actor, occurred_at: `2026-01-01T00:00:${String(position).padStart(2, '0')}Z` };
}

const STEPS = ['reserve', 'approve', 'charge', 'ship', 'notify'];
const started = () => ev('WorkflowStarted', { definition: 'order', version: 1, input: { amount: 5 }, started_by: 'me', deadline: '2026-01-02T00:00:00Z' });

function stateOf(events: HistoryEvent[], step: string): StepShown {
  return shown(fold(STEPS, events).steps[step]);
}

describe('the mapping from events to step states', () => {
  it('gives every shown state from the events that lead to it', () => {
    const reached = new Set<StepShown>();
    const cases: [StepShown, HistoryEvent[]][] = [
      ['pending', [started()]],
      ['scheduled', [started(), ev('StepScheduled', { step: 'reserve', attempt: 1, input: {}, idempotency_key: 'k' })]],
      ['running', [started(), ev('StepScheduled', { step: 'reserve', attempt: 1, input: {}, idempotency_key: 'k' }), ev('StepStarted', { step: 'reserve', attempt: 1, worker: 'w1' })]],
      ['waiting for approval', [started(), ev('ApprovalRequested', { step: 'reserve', attempt: 1, approvers: ['role:manager'], due_at: '2026-01-01T01:00:00Z' })]],
      ['waiting for retry', [started(), ev('StepScheduled', { step: 'reserve', attempt: 1, input: {}, idempotency_key: 'k' }), ev('StepFailed', { step: 'reserve', attempt: 1, error: { message: 'busy', retryable: true } }), ev('StepRetryScheduled', { step: 'reserve', attempt: 2, at: '2026-01-01T00:10:00Z' })]],
      ['waiting', [started(), ev('StepScheduled', { step: 'reserve', attempt: 1, input: {}, idempotency_key: 'k', wake_at: '2026-01-01T05:00:00Z' })]],
      ['completed', [started(), ev('StepScheduled', { step: 'reserve', attempt: 1, input: {}, idempotency_key: 'k' }), ev('StepCompleted', { step: 'reserve', attempt: 1, output: { id: 1 } })]],
      ['failed', [started(), ev('StepScheduled', { step: 'reserve', attempt: 1, input: {}, idempotency_key: 'k' }), ev('StepTimedOut', { step: 'reserve', attempt: 1, timeout: 'attempt' })]],
      ['skipped', [started(), ev('StepSkipped', { step: 'reserve', reason: { kind: 'condition_false' } })]],
      ['compensating', [started(), ev('StepCompleted', { step: 'reserve', attempt: 1, output: {} }), ev('CompensationStarted', { cause: { kind: 'cancelled' } }), ev('CompensationScheduled', { step: 'reserve', attempt: 1, input: {}, idempotency_key: 'k:compensate' })]],
      ['compensated', [started(), ev('StepCompleted', { step: 'reserve', attempt: 1, output: {} }), ev('CompensationScheduled', { step: 'reserve', attempt: 1, input: {}, idempotency_key: 'k' }), ev('CompensationCompleted', { step: 'reserve', attempt: 1, output: {} })]],
      ['compensation failed', [started(), ev('StepCompleted', { step: 'reserve', attempt: 1, output: {} }), ev('CompensationScheduled', { step: 'reserve', attempt: 1, input: {}, idempotency_key: 'k' }), ev('CompensationFailed', { step: 'reserve', attempt: 1, error: { message: 'refund refused', retryable: false } })]],
      ['compensation skipped', [started(), ev('StepCompleted', { step: 'reserve', attempt: 1, output: {} }), ev('CompensationFailed', { step: 'reserve', attempt: 1, error: { message: 'x', retryable: false } }), ev('CompensationSkipped', { step: 'reserve' })]],
    ];
    for (const [expected, events] of cases) {
      expect(stateOf(events, 'reserve'), expected).toBe(expected);
      reached.add(expected);
    }
    expect([...reached].sort()).toEqual([...ALL_SHOWN].sort());
  });

  it('records what the step panel shows: input, key, worker, output, error and attempt', () => {
    const events = [
      started(),
      ev('StepScheduled', { step: 'charge', attempt: 1, input: { amount: 5 }, idempotency_key: 'i:charge', deadline: '2026-01-01T00:05:00Z' }),
      ev('StepStarted', { step: 'charge', attempt: 1, worker: 'exec:payments' }),
      ev('StepFailed', { step: 'charge', attempt: 1, error: { message: 'card declined', retryable: true } }),
      ev('StepRetryScheduled', { step: 'charge', attempt: 2, at: '2026-01-01T00:01:00Z' }),
    ];
    const step = fold(STEPS, events).steps.charge;
    expect(step.input).toEqual({ amount: 5 });
    expect(step.idempotency_key).toBe('i:charge');
    expect(step.worker).toBe('exec:payments');
    expect(step.error).toEqual({ message: 'card declined', retryable: true });
    expect(step.attempt).toBe(1);
    expect(step.waiting).toEqual({ kind: 'retry', attempt: 2, at: '2026-01-01T00:01:00Z' });
    const retried = apply(fold(STEPS, events), ev('StepScheduled', { step: 'charge', attempt: 2, input: {}, idempotency_key: 'i:charge' }));
    expect(retried.steps.charge.status).toBe('scheduled');
    expect(retried.steps.charge.error).toBeUndefined();
  });

  it('puts the instance back to running on an operator retry or skip of a failed step', () => {
    const failed = [started(), ev('StepFailed', { step: 'reserve', attempt: 1, error: { message: 'no', retryable: false } }), ev('WorkflowFailed', { error: 'reserve failed' })];
    expect(fold(STEPS, failed).status).toBe('failed');
    const retried = [...failed, ev('StepRetryRequested', { step: 'reserve' }, 'apikey:ops')];
    expect(fold(STEPS, retried).status).toBe('running');
    expect(fold(STEPS, retried).steps.reserve.status).toBe('pending');
    const skipped = [...failed, ev('StepSkipped', { step: 'reserve', reason: { kind: 'operator' }, output: { manual: true } })];
    expect(fold(STEPS, skipped).status).toBe('running');
    expect(fold(STEPS, skipped).steps.reserve.output).toEqual({ manual: true });
  });

  it('keeps the identity of steps an event does not touch', () => {
    const before = fold(STEPS, [started()]);
    const after = apply(before, ev('StepScheduled', { step: 'reserve', attempt: 1, input: {}, idempotency_key: 'k' }));
    expect(after.steps.charge).toBe(before.steps.charge);
    expect(after.steps.reserve).not.toBe(before.steps.reserve);
    expect(before.steps.reserve.status).toBe('pending');
  });

  it('ignores events about steps the definition lacks', () => {
    const state = fold(STEPS, [started(), ev('StepCompleted', { step: 'ghost', attempt: 1, output: {} })]);
    expect(Object.keys(state.steps)).toEqual(STEPS);
    expect(state.version).toBe(2);
  });
});

describe('time travel: the fold of a prefix', () => {
  const history = [
    started(),
    ev('StepScheduled', { step: 'reserve', attempt: 1, input: {}, idempotency_key: 'k' }),
    ev('StepCompleted', { step: 'reserve', attempt: 1, output: { id: 7 } }),
    ev('StepScheduled', { step: 'charge', attempt: 1, input: {}, idempotency_key: 'c' }),
    ev('StepFailed', { step: 'charge', attempt: 1, error: { message: 'card declined', retryable: false } }),
    ev('CompensationStarted', { cause: { kind: 'step_failed', step: 'charge' } }),
    ev('CompensationScheduled', { step: 'reserve', attempt: 1, input: {}, idempotency_key: 'k:compensate' }),
    ev('CompensationCompleted', { step: 'reserve', attempt: 1, output: {} }),
    ev('WorkflowCompensated'),
  ];

  it('shows each earlier graph as it was right after its event', () => {
    const after = (count: number) => fold(STEPS, history, count);
    expect(after(1).status).toBe('running');
    expect(shown(after(1).steps.reserve)).toBe('pending');
    expect(shown(after(2).steps.reserve)).toBe('scheduled');
    expect(shown(after(3).steps.reserve)).toBe('completed');
    expect(shown(after(5).steps.charge)).toBe('failed');
    expect(after(6).status).toBe('compensating');
    expect(shown(after(7).steps.reserve)).toBe('compensating');
    expect(shown(after(8).steps.reserve)).toBe('compensated');
    expect(after(9).status).toBe('compensated');
  });

  it('equals folding the whole history step by step, for every prefix', () => {
    let state = initial(STEPS);
    history.forEach((event, index) => {
      state = apply(state, event);
      expect(fold(STEPS, history, index + 1)).toEqual(state);
    });
  });

  it('explains the end in one sentence', () => {
    expect(whyItEnded('compensated', history)).toBe('Compensated because step charge failed on attempt 1: card declined.');
    expect(whyItEnded('running', history)).toBeNull();
  });
});

describe('why it ended', () => {
  it('names who cancelled, a rejection and a failed compensation', () => {
    const cancelled = [started(), ev('CancellationRequested', { compensate: true }, 'apikey:ops'), ev('CompensationStarted', { cause: { kind: 'cancelled' } }), ev('WorkflowCancelled')];
    expect(whyItEnded('cancelled', cancelled)).toBe('Cancelled: apikey:ops cancelled it with compensation.');
    const rejected = [started(), ev('ApprovalRequested', { step: 'approve', attempt: 1, approvers: [] }), ev('ApprovalRejected', { step: 'approve', by: 'apikey:boss', comment: 'too much' }), ev('StepFailed', { step: 'approve', attempt: 1, error: { message: 'rejected', retryable: false } }), ev('CompensationStarted', { cause: { kind: 'step_failed', step: 'approve' } }), ev('WorkflowCompensated')];
    expect(whyItEnded('compensated', rejected)).toBe('Compensated because approval approve was rejected by apikey:boss: “too much”.');
    const stuck = [started(), ev('StepFailed', { step: 'charge', attempt: 2, error: { message: 'declined', retryable: false } }), ev('CompensationStarted', { cause: { kind: 'step_failed', step: 'charge' } }), ev('CompensationFailed', { step: 'reserve', attempt: 3, error: { message: 'refund refused', retryable: true } }), ev('WorkflowCompensationFailed', { steps: ['reserve'] })];
    expect(whyItEnded('compensation_failed', stuck)).toBe('The compensation of reserve failed on attempt 3: refund refused (compensating because step charge failed on attempt 2: declined); it waits for an operator to retry or skip it.');
    const failed = [started(), ev('StepTimedOut', { step: 'ship', attempt: 3, timeout: 'heartbeat' }), ev('WorkflowFailed', { error: 'ship failed' })];
    expect(whyItEnded('failed', failed)).toBe('Failed because step ship stopped sending heartbeats on attempt 3.');
  });
});

describe('the timeline', () => {
  it('draws attempts, backoffs, approvals and compensations, and lists pending timers', () => {
    const events = [
      started(),
      ev('StepScheduled', { step: 'charge', attempt: 1, input: {}, idempotency_key: 'c', deadline: '2026-01-01T00:09:00Z' }),
      ev('StepStarted', { step: 'charge', attempt: 1, worker: 'w' }),
      ev('StepFailed', { step: 'charge', attempt: 1, error: { message: 'busy', retryable: true } }),
      ev('StepRetryScheduled', { step: 'charge', attempt: 2, at: '2026-01-01T00:30:00Z' }),
      ev('ApprovalRequested', { step: 'approve', attempt: 1, approvers: ['role:manager'], due_at: '2026-01-02T00:00:00Z' }),
    ];
    const drawn = bars(events);
    expect(drawn.map((b) => [b.step, b.kind, b.outcome])).toEqual([
      ['charge', 'attempt', 'failed'],
      ['charge', 'backoff', 'waiting'],
      ['approve', 'approval', 'waiting'],
    ]);
    const timers = pendingTimers(fold(STEPS, events));
    expect(timers.map((t) => [t.what, t.step, t.at])).toEqual([
      ['retry (attempt 2)', 'charge', '2026-01-01T00:30:00Z'],
      ['workflow deadline', undefined, '2026-01-02T00:00:00Z'],
      ['approval deadline', 'approve', '2026-01-02T00:00:00Z'],
    ]);
  });
});
