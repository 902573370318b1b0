import { type Reports } from "./execute";
import { type TaskMessage } from "./message";
import type { Runtime } from "./runtime";
export declare class AmqpTransport implements Reports {
    private readonly url;
    private readonly runtime;
    readonly reportsStart = true;
    private channel;
    private connection;
    private abandoned;
    private connectedWaiters;
    private readonly running;
    private readonly confirmed;
    private readonly reporter;
    /** Set by a `basic.return` of the publish in flight (one at a time). */
    private returned;
    constructor(url: string, runtime: Runtime);
    /** Works until the runtime drains, then returns once the running tasks are reported and acked. */
    run(): Promise<void>;
    /** Gives up on the running tasks (a drain that timed out): their unacked deliveries go back to their queues. */
    abandon(): Promise<void>;
    private session;
    /** Sends a presence message; best effort (a failure is not the tasks' concern). */
    private announce;
    private take;
    private work;
    started(task: TaskMessage): Promise<void>;
    heartbeat(task: TaskMessage, progress: number | undefined): Promise<void>;
    private send;
    private connected;
}
