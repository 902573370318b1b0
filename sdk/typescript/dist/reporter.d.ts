import type { Result } from "./message";
/** Results in one message at most (as DisTorch's own workers). */
export declare const BATCH = 64;
export declare class Reporter {
    private readonly send;
    private waiting;
    private publishing;
    constructor(send: (results: Result[]) => Promise<void>);
    /** Resolves once the message carrying `result` is confirmed. */
    publish(result: Result): Promise<void>;
    private drain;
}
