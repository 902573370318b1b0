// The wire form of docs/worker-protocol.md: task messages in, results out.

export type Kind = "forward" | "compensation";

export class UnreadableTask extends Error {
  override name = "UnreadableTask";
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

export type Outcome =
  | { outcome: "started"; worker: string }
  | { outcome: "heartbeat"; progress?: number }
  | { outcome: "completed"; output: unknown }
  | { outcome: "failed"; error: { message: string; retryable: boolean } };

export type Result = {
  task_id: string;
  instance_id: string;
  step: string;
  attempt: number;
  kind: Kind;
  started_by?: string;
} & Outcome;

const TEXT = ["task_id", "instance_id", "workflow", "step", "queue", "idempotency_key"] as const;

export function parseTask(body: Buffer | string): TaskMessage {
  let fields: unknown;
  try {
    fields = JSON.parse(typeof body === "string" ? body : body.toString("utf8"));
  } catch (error) {
    throw new UnreadableTask(`not JSON: ${(error as Error).message}`);
  }
  if (typeof fields !== "object" || fields === null || Array.isArray(fields)) {
    throw new UnreadableTask("not a JSON object");
  }
  const f = fields as Record<string, unknown>;
  const missing = [...TEXT, "attempt", "kind"].filter((name) => !(name in f));
  if (missing.length > 0) throw new UnreadableTask(`missing ${missing.join(", ")}`);
  const wrong: string[] = TEXT.filter((name) => typeof f[name] !== "string");
  if (!Number.isInteger(f["attempt"]) || (f["attempt"] as number) < 1) wrong.push("attempt");
  if (f["kind"] !== "forward" && f["kind"] !== "compensation") wrong.push("kind");
  if (wrong.length > 0) throw new UnreadableTask(`malformed ${wrong.join(", ")}`);
  let deadline: Date | undefined;
  if (typeof f["deadline"] === "string") {
    deadline = new Date(f["deadline"]);
    if (Number.isNaN(deadline.getTime())) throw new UnreadableTask(`deadline \`${f["deadline"]}\` is not RFC 3339`);
  }
  const timeout = f["heartbeat_timeout_ms"];
  return {
    taskId: f["task_id"] as string,
    instanceId: f["instance_id"] as string,
    workflow: f["workflow"] as string,
    step: f["step"] as string,
    attempt: f["attempt"] as number,
    kind: f["kind"] as Kind,
    queue: f["queue"] as string,
    input: "input" in f ? f["input"] : {},
    idempotencyKey: f["idempotency_key"] as string,
    deadline,
    priority: typeof f["priority"] === "number" ? f["priority"] : 0,
    heartbeatTimeoutMs: typeof timeout === "number" ? timeout : undefined,
    traceparent: typeof f["traceparent"] === "string" ? f["traceparent"] : undefined,
    secrets: Array.isArray(f["secrets"]) ? f["secrets"].filter((item): item is string => typeof item === "string") : [],
  };
}

/** A result of `task`: the echoed fields and the outcome beside them. */
export function resultOf(task: TaskMessage, outcome: Outcome): Result {
  return {
    task_id: task.taskId,
    instance_id: task.instanceId,
    step: task.step,
    attempt: task.attempt,
    kind: task.kind,
    ...outcome,
  };
}

export const completed = (output: unknown): Outcome => ({ outcome: "completed", output });
export const failed = (message: string, retryable: boolean): Outcome => ({
  outcome: "failed",
  error: { message, retryable },
});
export const started = (worker: string): Outcome => ({ outcome: "started", worker });
export const heartbeat = (progress: number | undefined): Outcome =>
  progress === undefined ? { outcome: "heartbeat" } : { outcome: "heartbeat", progress };
