"use strict";
// The wire form of docs/worker-protocol.md: task messages in, results out.
Object.defineProperty(exports, "__esModule", { value: true });
exports.heartbeat = exports.started = exports.failed = exports.completed = exports.UnreadableTask = void 0;
exports.parseTask = parseTask;
exports.resultOf = resultOf;
class UnreadableTask extends Error {
    name = "UnreadableTask";
}
exports.UnreadableTask = UnreadableTask;
const TEXT = ["task_id", "instance_id", "workflow", "step", "queue", "idempotency_key"];
function parseTask(body) {
    let fields;
    try {
        fields = JSON.parse(typeof body === "string" ? body : body.toString("utf8"));
    }
    catch (error) {
        throw new UnreadableTask(`not JSON: ${error.message}`);
    }
    if (typeof fields !== "object" || fields === null || Array.isArray(fields)) {
        throw new UnreadableTask("not a JSON object");
    }
    const f = fields;
    const missing = [...TEXT, "attempt", "kind"].filter((name) => !(name in f));
    if (missing.length > 0)
        throw new UnreadableTask(`missing ${missing.join(", ")}`);
    const wrong = TEXT.filter((name) => typeof f[name] !== "string");
    if (!Number.isInteger(f["attempt"]) || f["attempt"] < 1)
        wrong.push("attempt");
    if (f["kind"] !== "forward" && f["kind"] !== "compensation")
        wrong.push("kind");
    if (wrong.length > 0)
        throw new UnreadableTask(`malformed ${wrong.join(", ")}`);
    let deadline;
    if (typeof f["deadline"] === "string") {
        deadline = new Date(f["deadline"]);
        if (Number.isNaN(deadline.getTime()))
            throw new UnreadableTask(`deadline \`${f["deadline"]}\` is not RFC 3339`);
    }
    const timeout = f["heartbeat_timeout_ms"];
    return {
        taskId: f["task_id"],
        instanceId: f["instance_id"],
        workflow: f["workflow"],
        step: f["step"],
        attempt: f["attempt"],
        kind: f["kind"],
        queue: f["queue"],
        input: "input" in f ? f["input"] : {},
        idempotencyKey: f["idempotency_key"],
        deadline,
        priority: typeof f["priority"] === "number" ? f["priority"] : 0,
        heartbeatTimeoutMs: typeof timeout === "number" ? timeout : undefined,
        traceparent: typeof f["traceparent"] === "string" ? f["traceparent"] : undefined,
        secrets: Array.isArray(f["secrets"]) ? f["secrets"].filter((item) => typeof item === "string") : [],
    };
}
/** A result of `task`: the echoed fields and the outcome beside them. */
function resultOf(task, outcome) {
    return {
        task_id: task.taskId,
        instance_id: task.instanceId,
        step: task.step,
        attempt: task.attempt,
        kind: task.kind,
        ...outcome,
    };
}
const completed = (output) => ({ outcome: "completed", output });
exports.completed = completed;
const failed = (message, retryable) => ({
    outcome: "failed",
    error: { message, retryable },
});
exports.failed = failed;
const started = (worker) => ({ outcome: "started", worker });
exports.started = started;
const heartbeat = (progress) => progress === undefined ? { outcome: "heartbeat" } : { outcome: "heartbeat", progress };
exports.heartbeat = heartbeat;
