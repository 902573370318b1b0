export type Kind = "forward" | "compensation";
export declare class UnreadableTask extends Error {
    name: string;
}
/** A task as it came off the queue (or out of the long poll). */
export interface TaskMessage {
    readonly taskId: string;
    readonly instanceId: string;
    readonly workflow: string;
    readonly step: string;
    readonly attempt: number;
    readonly kind: Kind;
    readonly queue: string;
    readonly input: unknown;
    readonly idempotencyKey: string;
    readonly deadline: Date | undefined;
    readonly priority: number;
    /** Milliseconds; a worker that reports `started` heartbeats well within it. */
    readonly heartbeatTimeoutMs: number | undefined;
    readonly traceparent: string | undefined;
    /** JSON Pointers to the strings of `input` holding `${ secrets.NAME }` references the definition wrote: only those are resolved. */
    readonly secrets: readonly string[];
}
export type Outcome = {
    outcome: "started";
    worker: string;
} | {
    outcome: "heartbeat";
    progress?: number;
} | {
    outcome: "completed";
    output: unknown;
} | {
    outcome: "failed";
    error: {
        message: string;
        retryable: boolean;
    };
};
export type Result = {
    task_id: string;
    instance_id: string;
    step: string;
    attempt: number;
    kind: Kind;
    started_by?: string;
} & Outcome;
export declare function parseTask(body: Buffer | string): TaskMessage;
/** A result of `task`: the echoed fields and the outcome beside them. */
export declare function resultOf(task: TaskMessage, outcome: Outcome): Result;
export declare const completed: (output: unknown) => Outcome;
export declare const failed: (message: string, retryable: boolean) => Outcome;
export declare const started: (worker: string) => Outcome;
export declare const heartbeat: (progress: number | undefined) => Outcome;
