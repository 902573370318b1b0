// One attempt, run to its outcome: secrets resolved, the function called,
// `started` reported when it takes a while, heartbeats on a timer, and the
// function cut at the task's deadline.

import { completed, failed, type Outcome, type TaskMessage } from "./message";
import { MissingSecret, resolve, type SecretLookup } from "./secrets";
import { Permanent, Task, type Logger } from "./task";
import { traceTask } from "./tracing";

export type TaskFunction<Input = any> = (task: Task<Input>) => unknown;

/**
 * How long a task runs before its `started` is reported (as the built-in
 * workers do): a quick task is reported once, naming the worker in `started_by`.
 */
export const START_REPORT_AFTER_MS = 250;

/** How a transport reports on a running attempt. */
export interface Reports {
  /** False when handing the task out already recorded its start (HTTP). */
  readonly reportsStart: boolean;
  started(task: TaskMessage): Promise<void>;
  heartbeat(task: TaskMessage, progress: number | undefined): Promise<void>;
}

export interface Finished {
  outcome: Outcome;
  /** Whether `started` went out: if not, the result names the worker. */
  started: boolean;
}

/** The reports of one running attempt: its start, once, and heartbeats. */
class Attempt {
  started: boolean;
  progress: number | undefined;

  constructor(readonly message: TaskMessage, private readonly reports: Reports, private readonly logger: Logger) {
    this.started = !reports.reportsStart;
  }

  async ensureStarted(): Promise<void> {
    if (this.started) return;
    this.started = true;
    try {
      await this.reports.started(this.message);
    } catch (error) {
      this.started = false; // the final result names the worker then
      this.logger(`${this.message.taskId}: reporting the start failed: ${String(error)}`);
    }
  }

  async beat(progress: number | undefined): Promise<void> {
    if (progress !== undefined) this.progress = progress;
    await this.ensureStarted();
    try {
      await this.reports.heartbeat(this.message, this.progress);
    } catch (error) {
      this.logger(`${this.message.taskId}: a heartbeat failed: ${String(error)}`);
    }
  }
}

type Settled = { ok: true; value: unknown } | { ok: false; error: unknown };

/** Runs the attempt; never throws for the function's sake. */
export async function execute(
  message: TaskMessage,
  fn: TaskFunction | undefined,
  reports: Reports,
  lookup: SecretLookup,
  logger: Logger,
): Promise<Finished> {
  const attempt = new Attempt(message, reports, logger);
  const finish = (outcome: Outcome): Finished => ({ outcome, started: attempt.started });
  if (fn === undefined) {
    const which = message.kind === "compensation" ? "compensation" : "task";
    return finish(failed(`this worker has no ${which} function for queue \`${message.queue}\``, false));
  }
  const left = msLeft(message);
  if (left !== undefined && left <= 0) return finish(failed("the deadline passed before the task started", true));
  let input: unknown;
  try {
    input = resolve(message.input, message.secrets, lookup);
  } catch (error) {
    if (error instanceof MissingSecret) return finish(failed(error.message, false));
    throw error;
  }
  const trace = traceTask(message);
  const cut = new AbortController();
  const task = new Task(message, input, attempt, trace, cut.signal, logger);
  const job: Promise<Settled> = trace
    .run(async () => fn(task))
    .then((value) => ({ ok: true as const, value }), (error: unknown) => ({ ok: false as const, error }));
  const timers: NodeJS.Timeout[] = [];
  try {
    if (!attempt.started) {
      const quick = await within(job, left === undefined ? START_REPORT_AFTER_MS : Math.min(START_REPORT_AFTER_MS, left), timers);
      if (quick === undefined) await attempt.ensureStarted();
    }
    const period = message.heartbeatTimeoutMs;
    if (period !== undefined) {
      const beating = setInterval(() => void attempt.beat(undefined), Math.max(period / 3, 50));
      timers.push(beating);
    }
    const remaining = msLeft(message);
    const settled = await within(job, remaining === undefined ? undefined : Math.max(remaining, 0), timers);
    if (settled === undefined) {
      cut.abort(new Error("the task ran past its deadline"));
      trace.end(new Error("cut at the deadline"));
      const when = message.deadline?.toISOString() ?? "?";
      return finish(failed(`timed out: the task ran past its deadline (${when}) and was cut`, true));
    }
    trace.end(settled.ok ? undefined : settled.error);
    return finish(outcomeOf(settled));
  } finally {
    for (const timer of timers) clearTimeout(timer);
  }
}

function outcomeOf(settled: Settled): Outcome {
  if (!settled.ok) {
    const error = settled.error;
    const message = error instanceof Error ? error.message || error.name : String(error);
    return failed(message, !(error instanceof Permanent));
  }
  const output = settled.value === undefined ? null : settled.value;
  try {
    JSON.stringify(output);
  } catch (error) {
    return failed(`the output is not JSON: ${(error as Error).message}`, false);
  }
  return completed(output);
}

/** What `job` settled to within `ms` (forever when undefined), or undefined. */
function within(job: Promise<Settled>, ms: number | undefined, timers: NodeJS.Timeout[]): Promise<Settled | undefined> {
  if (ms === undefined) return job;
  return new Promise((resolveWith) => {
    const timer = setTimeout(() => resolveWith(undefined), ms);
    timers.push(timer);
    void job.then((settled) => {
      clearTimeout(timer);
      resolveWith(settled);
    });
  });
}

function msLeft(message: TaskMessage): number | undefined {
  return message.deadline === undefined ? undefined : message.deadline.getTime() - Date.now();
}
