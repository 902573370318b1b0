import type { TaskFunction } from "./execute";
import { type Secrets } from "./secrets";
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
export type WorkerOptions = (CommonOptions & {
    amqpUrl: string;
    httpUrl?: undefined;
    token?: undefined;
}) | (CommonOptions & {
    httpUrl: string;
    token?: string;
    amqpUrl?: undefined;
});
export declare class Worker {
    private readonly options;
    readonly name: string;
    private readonly functions;
    private runtime;
    constructor(options: WorkerOptions);
    /** Registers the function that runs the steps of `queue`. */
    task<Input = any>(queue: string, fn: TaskFunction<Input>): this;
    /** Registers the function that undoes the steps of `queue`. */
    compensation<Input = any>(queue: string, fn: TaskFunction<Input>): this;
    private register;
    /**
     * Serves until SIGTERM or SIGINT (or `stop()`), then drains: takes no new
     * task, finishes and reports the running ones, and resolves.
     */
    run(): Promise<void>;
    /** Begins the drain of a running worker. */
    stop(): void;
}
export {};
