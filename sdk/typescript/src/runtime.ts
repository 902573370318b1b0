// What the transports share: the functions by queue and kind, the
// concurrency slots, the work in flight (to wait for on a drain) and the
// worker's log lines.

import { randomUUID } from "node:crypto";
import { hostname } from "node:os";

import type { TaskFunction } from "./execute";
import type { Kind, Outcome, TaskMessage } from "./message";
import type { SecretLookup } from "./secrets";
import type { Logger } from "./task";

/** This SDK's version, announced in presence messages. */
const SDK_VERSION = "0.1.0";

export class Runtime {
  readonly queues: string[];
  private free: number;
  private readonly waiters: Array<(got: boolean) => void> = [];
  /** Waiters that take a slot even during a drain. */
  private readonly committed: Array<() => void> = [];
  private readonly spawned = new Set<Promise<void>>();
  private drainingNow = false;
  private readonly drainListeners: Array<() => void> = [];
  /** Presence (protocol section 12). */
  readonly workerId = randomUUID();
  readonly host = hostname();
  readonly version = SDK_VERSION;
  readonly startedAt = new Date().toISOString();
  readonly inFlight = new Set<string>();
  completed = 0;
  failed = 0;

  constructor(
    readonly name: string,
    private readonly functions: Map<string, TaskFunction>,
    readonly lookup: SecretLookup,
    readonly concurrency: number,
    readonly prefetch: number,
    readonly log: Logger,
  ) {
    this.queues = [...new Set([...functions.keys()].map((key) => key.split("\u0000")[0] as string))].sort();
    this.free = concurrency;
  }

  static key(queue: string, kind: Kind): string {
    return `${queue}\u0000${kind}`;
  }

  functionFor(task: TaskMessage): TaskFunction | undefined {
    return this.functions.get(Runtime.key(task.queue, task.kind));
  }

  get draining(): boolean {
    return this.drainingNow;
  }

  /** Begins the drain: no slot is handed out any more. */
  drain(): void {
    if (this.drainingNow) return;
    this.drainingNow = true;
    for (const waiter of this.waiters.splice(0)) waiter(false);
    for (const listener of this.drainListeners.splice(0)) listener();
  }

  /** Resolves when the drain begins. */
  drained(): Promise<void> {
    if (this.drainingNow) return Promise.resolve();
    return new Promise((resolveWith) => this.drainListeners.push(resolveWith));
  }

  /** One of the `concurrency` slots (true), or none once a drain began. */
  acquire(): Promise<boolean> {
    if (this.drainingNow) return Promise.resolve(false);
    if (this.free > 0) {
      this.free -= 1;
      return Promise.resolve(true);
    }
    return new Promise((resolveWith) => this.waiters.push(resolveWith));
  }

  /**
   * Waits until a slot is free, without taking it (true), or until a drain
   * begins (false): a long poll asks for a task only then.
   */
  async vacancy(): Promise<boolean> {
    if (!(await this.acquire())) return false;
    this.release();
    return true;
  }

  /** A slot even during a drain (for a task already taken off its queue). */
  acquireIgnoringDrain(): Promise<void> {
    if (this.free > 0) {
      this.free -= 1;
      return Promise.resolve();
    }
    return new Promise((resolveWith) => this.committed.push(resolveWith));
  }

  release(): void {
    const committed = this.committed.shift();
    if (committed !== undefined) return committed();
    const next = this.drainingNow ? undefined : this.waiters.shift();
    if (next === undefined) this.free += 1;
    else next(true);
  }

  spawn(work: Promise<void>): void {
    const tracked = work.catch((error: unknown) => this.log(`a task of the worker crashed: ${String(error)}`));
    this.spawned.add(tracked);
    void tracked.finally(() => this.spawned.delete(tracked));
  }

  get busy(): boolean {
    return this.spawned.size > 0;
  }

  /** Resolves once nothing spawned is left. */
  async idle(): Promise<void> {
    while (this.spawned.size > 0) await Promise.all([...this.spawned]);
  }

  /** A task starts running (counted in `inFlight`). */
  begin(taskId: string): void {
    this.inFlight.add(taskId);
  }

  /** A task ended with `outcome` (counted as completed or failed). */
  end(taskId: string, outcome: Outcome): void {
    this.inFlight.delete(taskId);
    if (outcome.outcome === "failed") this.failed += 1;
    else this.completed += 1;
  }

  logOutcome(task: TaskMessage, outcome: Outcome): void {
    if (outcome.outcome === "failed") {
      const kind = outcome.error.retryable ? "retryable" : "permanent";
      this.log(`${task.taskId}: failed (${kind}) ${outcome.error.message}`);
    } else {
      this.log(`${task.taskId}: ${outcome.outcome}`);
    }
  }
}
