"use strict";
// What a task function gets (`Task`) and may throw (`Permanent`).
Object.defineProperty(exports, "__esModule", { value: true });
exports.Task = exports.Permanent = void 0;
const node_util_1 = require("node:util");
/**
 * The same input would fail again (a declined card, a bad request): the step
 * fails for good, whatever attempts remain (`retryable: false`). Any other
 * error is retryable.
 */
class Permanent extends Error {
    name = "Permanent";
}
exports.Permanent = Permanent;
/**
 * One attempt of a step (or of its compensation), as its function sees it.
 * `input` has its `${ secrets.NAME }` references resolved. Use
 * `idempotencyKey` to make the effect safe to repeat: a task can be
 * delivered more than once (the protocol is at least once).
 */
class Task {
    message;
    beats;
    trace;
    logger;
    input;
    /** Aborted when the deadline passes and the function is cut: pass it to `fetch` and the like. */
    signal;
    constructor(message, input, beats, trace, signal, logger) {
        this.message = message;
        this.beats = beats;
        this.trace = trace;
        this.logger = logger;
        this.input = input;
        this.signal = signal;
    }
    get taskId() { return this.message.taskId; }
    get instanceId() { return this.message.instanceId; }
    get workflow() { return this.message.workflow; }
    get step() { return this.message.step; }
    get queue() { return this.message.queue; }
    get attempt() { return this.message.attempt; }
    /** `forward`, or `compensation`: undo what the step did. */
    get kind() { return this.message.kind; }
    /** The same for every attempt and redelivery of the step. */
    get idempotencyKey() { return this.message.idempotencyKey; }
    /** When the engine gives up on this attempt; the function is cut then. */
    get deadline() { return this.message.deadline; }
    /** What to send on as the W3C `traceparent` of calls this task makes. */
    get traceparent() { return this.trace.traceparent(); }
    /**
     * Reports that the task is alive, with its progress (0 to 100). The worker
     * also heartbeats on a timer, so call this for progress only. `message`
     * goes to this worker's log (the protocol carries none).
     */
    async heartbeat(report = {}) {
        const { progress, message } = report;
        if (progress !== undefined && !(Number.isInteger(progress) && progress >= 0 && progress <= 100)) {
            throw new RangeError(`progress is an integer from 0 to 100, not ${progress}`);
        }
        if (message !== undefined)
            this.log("%s", message);
        await this.beats.beat(progress);
    }
    /** A log line of this task, prefixed with `[workflow step#attempt]` (printf-like, `util.format`). */
    log(message, ...args) {
        this.logger(`[${this.workflow} ${this.step}#${this.attempt}] ${(0, node_util_1.format)(message, ...args)}`);
    }
}
exports.Task = Task;
