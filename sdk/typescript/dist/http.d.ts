import { type Reports } from "./execute";
import { type TaskMessage } from "./message";
import type { Runtime } from "./runtime";
/**
 * How long a poll waits for a task. A drain waits for the open polls (a poll
 * cut off could lose the task it was being handed), so keep it short.
 */
export declare const POLL_WAIT_SECONDS = 10;
export declare class HttpTransport implements Reports {
    private readonly runtime;
    readonly reportsStart = false;
    private readonly url;
    private readonly headers;
    constructor(url: string, token: string | undefined, runtime: Runtime);
    /** Polls each queue (`prefetch` polls open per queue) until the runtime drains. */
    run(): Promise<void>;
    /**
     * A poll waits for a free slot, not holding one while it waits for a task:
     * a task it gets may wait for a slot (as a prefetched one).
     */
    private poll;
    private take;
    private work;
    private reportFinal;
    /** Gives up on the running tasks (a drain that timed out): their steps time out. */
    abandon(): Promise<void>;
    started(): Promise<void>;
    heartbeat(task: TaskMessage, progress: number | undefined): Promise<void>;
    private post;
}
