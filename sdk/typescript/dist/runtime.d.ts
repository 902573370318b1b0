import type { TaskFunction } from "./execute";
import type { Kind, Outcome, TaskMessage } from "./message";
import type { SecretLookup } from "./secrets";
import type { Logger } from "./task";
export declare class Runtime {
    readonly name: string;
    private readonly functions;
    readonly lookup: SecretLookup;
    readonly concurrency: number;
    readonly prefetch: number;
    readonly log: Logger;
    readonly queues: string[];
    private free;
    private readonly waiters;
    /** Waiters that take a slot even during a drain. */
    private readonly committed;
    private readonly spawned;
    private drainingNow;
    private readonly drainListeners;
    /** Presence (protocol section 12). */
    readonly workerId: `${string}-${string}-${string}-${string}-${string}`;
    readonly host: string;
    readonly version = "0.1.0";
    readonly startedAt: string;
    readonly inFlight: Set<string>;
    completed: number;
    failed: number;
    constructor(name: string, functions: Map<string, TaskFunction>, lookup: SecretLookup, concurrency: number, prefetch: number, log: Logger);
    static key(queue: string, kind: Kind): string;
    functionFor(task: TaskMessage): TaskFunction | undefined;
    get draining(): boolean;
    /** Begins the drain: no slot is handed out any more. */
    drain(): void;
    /** Resolves when the drain begins. */
    drained(): Promise<void>;
    /** One of the `concurrency` slots (true), or none once a drain began. */
    acquire(): Promise<boolean>;
    /**
     * Waits until a slot is free, without taking it (true), or until a drain
     * begins (false): a long poll asks for a task only then.
     */
    vacancy(): Promise<boolean>;
    /** A slot even during a drain (for a task already taken off its queue). */
    acquireIgnoringDrain(): Promise<void>;
    release(): void;
    spawn(work: Promise<void>): void;
    get busy(): boolean;
    /** Resolves once nothing spawned is left. */
    idle(): Promise<void>;
    /** A task starts running (counted in `inFlight`). */
    begin(taskId: string): void;
    /** A task ended with `outcome` (counted as completed or failed). */
    end(taskId: string, outcome: Outcome): void;
    logOutcome(task: TaskMessage, outcome: Outcome): void;
}
