import type { TaskMessage } from "./message";
export interface TaskTrace {
    /** Runs `fn` with the task's span current. */
    run<T>(fn: () => T): T;
    /** The `traceparent` to send on: the task's span's, or the task's own. */
    traceparent(): string | undefined;
    end(error: unknown): void;
}
export declare function traceTask(task: TaskMessage): TaskTrace;
