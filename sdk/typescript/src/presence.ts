// Presence (protocol section 12): what the worker says of itself, hello,
// heartbeats every 10 s and soon after it turns busy or idle or begins to
// drain, goodbye; over AMQP on `distorch.workers`, the drain signal heard on
// its control queue `distorch.worker.<id>`.

import type { Runtime } from "./runtime";

export const WORKERS = "distorch.workers";
/** The engine's arguments for the presence queue, so a worker may declare it first. */
export const WORKERS_ARGUMENTS = { "x-queue-type": "classic", "x-message-ttl": 60_000 };
export const HEARTBEAT_MS = 10_000;
/** How often the beat loop looks for a turn (busy, idle, draining). */
const LOOK_MS = 1_000;

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

export const controlQueue = (workerId: string): string => `distorch.worker.${workerId}`;

/** The presence message of `kind`. */
export function presence(runtime: Runtime, kind: PresenceKind): Presence {
  return {
    type: kind,
    worker_id: runtime.workerId,
    name: runtime.name,
    host: runtime.host,
    version: runtime.version,
    queues: runtime.queues,
    capacity: runtime.concurrency,
    in_flight: [...runtime.inFlight].sort(),
    completed: runtime.completed,
    failed: runtime.failed,
    draining: runtime.draining || kind === "goodbye",
    started_at: runtime.startedAt,
  };
}

/** Whether a control message asks for a drain. */
export function isDrain(body: Buffer | string): boolean {
  try {
    const parsed: unknown = JSON.parse(body.toString());
    return typeof parsed === "object" && parsed !== null && (parsed as { type?: unknown }).type === "drain";
  } catch {
    return false;
  }
}

/**
 * Heartbeats every HEARTBEAT_MS and within a second of a turn, until the
 * returned function is called. A failed send is tried again at the next beat.
 */
export function beat(runtime: Runtime, send: (message: Presence) => Promise<void>): () => void {
  let lastSent = Date.now();
  let lastState = `${runtime.inFlight.size > 0}/${runtime.draining}`;
  let sending = false;
  const timer = setInterval(() => {
    const state = `${runtime.inFlight.size > 0}/${runtime.draining}`;
    if (sending || (state === lastState && Date.now() - lastSent < HEARTBEAT_MS)) return;
    sending = true;
    send(presence(runtime, "heartbeat"))
      .then(() => {
        lastSent = Date.now();
        lastState = state;
      })
      .catch(() => undefined)
      .finally(() => {
        sending = false;
      });
  }, LOOK_MS);
  timer.unref();
  return () => clearInterval(timer);
}
