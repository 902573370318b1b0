// What a task function gets (`Task`) and may throw (`Permanent`).

import { format } from "node:util";

import type { Kind, TaskMessage } from "./message";
import type { TaskTrace } from "./tracing";

/**
 * The same input would fail again (a declined card, a bad request): the step
 * fails for good, whatever attempts remain (`retryable: false`). Any other
 * error is retryable.
 */
export class Permanent extends Error {
  override name = "Permanent";
}

export interface Beats {
  beat(progress: number | undefined): Promise<void>;
}

export type Logger = (line: string) => void;

/**
 * One attempt of a step (or of its compensation), as its function sees it.
 * `input` has its `${ secrets.NAME }` references resolved. Use
 * `idempotencyKey` to make the effect safe to repeat: a task can be
 * delivered more than once (the protocol is at least once).
 */
export class Task<Input = any> {
  readonly input: Input;
  /** Aborted when the deadline passes and the function is cut: pass it to `fetch` and the like. */
  readonly signal: AbortSignal;

  constructor(
    private readonly message: TaskMessage,
    input: unknown,
    private readonly beats: Beats,
    private readonly trace: TaskTrace,
    signal: AbortSignal,
    private readonly logger: Logger,
  ) {
    this.input = input as Input;
    this.signal = signal;
  }

  get taskId(): string { return this.message.taskId; }
  get instanceId(): string { return this.message.instanceId; }
  get workflow(): string { return this.message.workflow; }
  get step(): string { return this.message.step; }
  get queue(): string { return this.message.queue; }
  get attempt(): number { return this.message.attempt; }
  /** `forward`, or `compensation`: undo what the step did. */
  get kind(): Kind { return this.message.kind; }
  /** The same for every attempt and redelivery of the step. */
  get idempotencyKey(): string { return this.message.idempotencyKey; }
  /** When the engine gives up on this attempt; the function is cut then. */
  get deadline(): Date | undefined { return this.message.deadline; }
  /** What to send on as the W3C `traceparent` of calls this task makes. */
  get traceparent(): string | undefined { return this.trace.traceparent(); }

  /**
   * Reports that the task is alive, with its progress (0 to 100). The worker
   * also heartbeats on a timer, so call this for progress only. `message`
   * goes to this worker's log (the protocol carries none).
   */
  async heartbeat(report: { progress?: number; message?: string } = {}): Promise<void> {
    const { progress, message } = report;
    if (progress !== undefined && !(Number.isInteger(progress) && progress >= 0 && progress <= 100)) {
      throw new RangeError(`progress is an integer from 0 to 100, not ${progress}`);
    }
    if (message !== undefined) this.log("%s", message);
    await this.beats.beat(progress);
  }

  /** A log line of this task, prefixed with `[workflow step#attempt]` (printf-like, `util.format`). */
  log(message: string, ...args: unknown[]): void {
    this.logger(`[${this.workflow} ${this.step}#${this.attempt}] ${format(message, ...args)}`);
  }
}
