// `Worker`: functions registered by queue, served over AMQP or HTTP long-poll
// until SIGTERM (or SIGINT), then drained.

import { hostname } from "node:os";

import { AmqpTransport } from "./amqp";
import type { TaskFunction } from "./execute";
import { HttpTransport } from "./http";
import type { Kind } from "./message";
import { Runtime } from "./runtime";
import { lookupOf, type Secrets } from "./secrets";
import type { Logger } from "./task";

interface CommonOptions {
  /** Shown in `StepStarted`; default `typescript@<host>:<pid>`. */
  name?: string;
  /** Tasks run at once. Default 16. */
  concurrency?: number;
  /**
   * Over AMQP, the tasks the broker hands each queue's consumer ahead (default:
   * `concurrency`; a prefetched task's deadline runs while it waits); over
   * HTTP, the polls kept open per queue (default 1).
   */
  prefetch?: number;
  /**
   * Where `${ secrets.NAME }` references are resolved: an object, a function
   * of the name, or (default) the environment variable
   * `DISTORCH_SECRET_<NAME in upper case>`.
   */
  secrets?: Secrets;
  /** On SIGTERM, how long to wait for the running tasks (default: until they end). */
  drainTimeoutMs?: number;
  /** Where log lines go; default stderr with a timestamp. */
  logger?: Logger;
}

export type WorkerOptions =
  | (CommonOptions & { amqpUrl: string; httpUrl?: undefined; token?: undefined })
  | (CommonOptions & { httpUrl: string; token?: string; amqpUrl?: undefined });

const stderrLogger: Logger = (line) => process.stderr.write(`${new Date().toISOString()} ${line}\n`);

export class Worker {
  readonly name: string;
  private readonly functions = new Map<string, TaskFunction>();
  private runtime: Runtime | undefined;

  constructor(private readonly options: WorkerOptions) {
    if ((options.amqpUrl === undefined) === (options.httpUrl === undefined)) {
      throw new TypeError("give either amqpUrl or httpUrl (with token)");
    }
    if (options.concurrency !== undefined && !(Number.isInteger(options.concurrency) && options.concurrency >= 1)) {
      throw new RangeError("concurrency is an integer of at least 1");
    }
    this.name = options.name ?? `typescript@${hostname()}:${process.pid}`;
  }

  /** Registers the function that runs the steps of `queue`. */
  task<Input = any>(queue: string, fn: TaskFunction<Input>): this {
    return this.register(queue, "forward", fn as TaskFunction);
  }

  /** Registers the function that undoes the steps of `queue`. */
  compensation<Input = any>(queue: string, fn: TaskFunction<Input>): this {
    return this.register(queue, "compensation", fn as TaskFunction);
  }

  private register(queue: string, kind: Kind, fn: TaskFunction): this {
    const key = Runtime.key(queue, kind);
    if (this.functions.has(key)) throw new Error(`queue \`${queue}\` already has a ${kind} function`);
    this.functions.set(key, fn);
    return this;
  }

  /**
   * Serves until SIGTERM or SIGINT (or `stop()`), then drains: takes no new
   * task, finishes and reports the running ones, and resolves.
   */
  async run(): Promise<void> {
    if (this.functions.size === 0) throw new Error("no function registered: use worker.task(queue, fn)");
    const { options } = this;
    const concurrency = options.concurrency ?? 16;
    const prefetch = options.prefetch ?? (options.amqpUrl !== undefined ? concurrency : 1);
    const log = options.logger ?? stderrLogger;
    const runtime = new Runtime(this.name, new Map(this.functions), lookupOf(options.secrets), concurrency, prefetch, log);
    this.runtime = runtime;
    const onSignal = () => this.stop();
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
    const transport =
      options.amqpUrl !== undefined
        ? new AmqpTransport(options.amqpUrl, runtime)
        : new HttpTransport(options.httpUrl, options.token, runtime);
    try {
      const serving = transport.run();
      if (options.drainTimeoutMs === undefined) {
        await serving;
      } else {
        await Promise.race([serving, runtime.drained()]);
        const timedOut = await Promise.race([
          serving.then(() => false),
          new Promise<boolean>((resolveWith) => setTimeout(() => resolveWith(true), options.drainTimeoutMs).unref()),
        ]);
        if (timedOut) {
          log(`the drain took over ${options.drainTimeoutMs} ms; giving up on the running tasks`);
          await transport.abandon();
        }
      }
    } finally {
      process.off("SIGTERM", onSignal);
      process.off("SIGINT", onSignal);
      this.runtime = undefined;
    }
    log("drained; stopped");
  }

  /** Begins the drain of a running worker. */
  stop(): void {
    if (this.runtime !== undefined && !this.runtime.draining) {
      this.runtime.log("stopping: finishing the running tasks, taking no new one");
      this.runtime.drain();
    }
  }
}
