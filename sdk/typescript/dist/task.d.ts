import type { Kind, TaskMessage } from "./message";
import type { TaskTrace } from "./tracing";
/**
 * The same input would fail again (a declined card, a bad request): the step
 * fails for good, whatever attempts remain (`retryable: false`). Any other
 * error is retryable.
 */
export declare class Permanent extends Error {
    name: string;
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
export declare class Task<Input = any> {
    private readonly message;
    private readonly beats;
    private readonly trace;
    private readonly logger;
    readonly input: Input;
    /** Aborted when the deadline passes and the function is cut: pass it to `fetch` and the like. */
    readonly signal: AbortSignal;
    constructor(message: TaskMessage, input: unknown, beats: Beats, trace: TaskTrace, signal: AbortSignal, logger: Logger);
    get taskId(): string;
    get instanceId(): string;
    get workflow(): string;
    get step(): string;
    get queue(): string;
    get attempt(): number;
    /** `forward`, or `compensation`: undo what the step did. */
    get kind(): Kind;
    /** The same for every attempt and redelivery of the step. */
    get idempotencyKey(): string;
    /** When the engine gives up on this attempt; the function is cut then. */
    get deadline(): Date | undefined;
    /** What to send on as the W3C `traceparent` of calls this task makes. */
    get traceparent(): string | undefined;
    /**
     * Reports that the task is alive, with its progress (0 to 100). The worker
     * also heartbeats on a timer, so call this for progress only. `message`
     * goes to this worker's log (the protocol carries none).
     */
    heartbeat(report?: {
        progress?: number;
        message?: string;
    }): Promise<void>;
    /** A log line of this task, prefixed with `[workflow step#attempt]` (printf-like, `util.format`). */
    log(message: string, ...args: unknown[]): void;
}
