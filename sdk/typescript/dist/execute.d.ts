import { type Outcome, type TaskMessage } from "./message";
import { type SecretLookup } from "./secrets";
import { Task, type Logger } from "./task";
export type TaskFunction<Input = any> = (task: Task<Input>) => unknown;
/**
 * How long a task runs before its `started` is reported (as the built-in
 * workers do): a quick task is reported once, naming the worker in `started_by`.
 */
export declare const START_REPORT_AFTER_MS = 250;
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
/** Runs the attempt; never throws for the function's sake. */
export declare function execute(message: TaskMessage, fn: TaskFunction | undefined, reports: Reports, lookup: SecretLookup, logger: Logger): Promise<Finished>;
