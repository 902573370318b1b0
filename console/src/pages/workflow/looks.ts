// How a step of an instance looks on the graph: its state in words, its
// progress, attempt and compensation. Cached per step state, so a step the
// last event did not touch keeps its look and is not redrawn.

import type { NodeLook } from '../../graph/Graph';
import type { StepState } from '../../model/fold';
import { shown, skipShort, tone } from '../../model/words';

const cache = new WeakMap<StepState, Map<number | undefined, NodeLook>>();

function build(step: StepState, progress: number | undefined): NodeLook {
  const text = shown(step);
  let note: string | undefined;
  if (step.status === 'skipped' && step.compensation === 'not_started') note = skipShort(step.skip);
  else if (step.status === 'failed' && step.compensation === 'not_started') note = `attempt ${step.attempt}: ${step.error?.message ?? ''}`;
  else if (step.compensation === 'failed') note = `attempt ${step.compensation_attempt}: ${step.compensation_error?.message ?? ''}`;
  else if (step.compensation === 'retrying') note = `compensation retry ${step.compensation_attempt + 1}`;
  else if (step.waiting?.kind === 'retry' && step.status === 'waiting') note = `attempt ${step.waiting.attempt} next`;
  else if (step.status === 'running' && progress !== undefined) note = `${progress}% · attempt ${step.attempt}`;
  else if (step.attempt > 1) note = `attempt ${step.attempt}`;
  return {
    text,
    tone: tone(text),
    progress: step.status === 'running' ? progress : undefined,
    note,
    highlight: text === 'failed' || text === 'compensation failed',
  };
}

export function lookOf(step: StepState, progress?: number): NodeLook {
  let byProgress = cache.get(step);
  if (!byProgress) {
    byProgress = new Map();
    cache.set(step, byProgress);
  }
  let look = byProgress.get(progress);
  if (!look) {
    look = build(step, progress);
    byProgress.set(progress, look);
  }
  return look;
}
