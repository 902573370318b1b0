import type { Runtime } from "./runtime";
export declare const WORKERS = "distorch.workers";
/** The engine's arguments for the presence queue, so a worker may declare it first. */
export declare const WORKERS_ARGUMENTS: {
    "x-queue-type": string;
    "x-message-ttl": number;
};
export declare const HEARTBEAT_MS = 10000;
export type PresenceKind = "hello" | "heartbeat" | "goodbye";
export interface Presence {
    type: PresenceKind;
    worker_id: string;
    name: string;
    host: string;
    version: string;
    queues: string[];
    capacity: number;
    in_flight: string[];
    completed: number;
    failed: number;
    draining: boolean;
    started_at: string;
}
export declare const controlQueue: (workerId: string) => string;
/** The presence message of `kind`. */
export declare function presence(runtime: Runtime, kind: PresenceKind): Presence;
/** Whether a control message asks for a drain. */
export declare function isDrain(body: Buffer | string): boolean;
/**
 * Heartbeats every HEARTBEAT_MS and within a second of a turn, until the
 * returned function is called. A failed send is tried again at the next beat.
 */
export declare function beat(runtime: Runtime, send: (message: Presence) => Promise<void>): () => void;
