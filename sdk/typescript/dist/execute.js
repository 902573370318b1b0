"use strict";
// One attempt, run to its outcome: secrets resolved, the function called,
// `started` reported when it takes a while, heartbeats on a timer, and the
// function cut at the task's deadline.
Object.defineProperty(exports, "__esModule", { value: true });
exports.START_REPORT_AFTER_MS = void 0;
exports.execute = execute;
const message_1 = require("./message");
const secrets_1 = require("./secrets");
const task_1 = require("./task");
const tracing_1 = require("./tracing");
/**
 * How long a task runs before its `started` is reported (as the built-in
 * workers do): a quick task is reported once, naming the worker in `started_by`.
 */
exports.START_REPORT_AFTER_MS = 250;
/** The reports of one running attempt: its start, once, and heartbeats. */
class Attempt {
    message;
    reports;
    logger;
    started;
    progress;
    constructor(message, reports, logger) {
        this.message = message;
        this.reports = reports;
        this.logger = logger;
        this.started = !reports.reportsStart;
    }
    async ensureStarted() {
        if (this.started)
            return;
        this.started = true;
        try {
            await this.reports.started(this.message);
        }
        catch (error) {
            this.started = false; // the final result names the worker then
            this.logger(`${this.message.taskId}: reporting the start failed: ${String(error)}`);
        }
    }
    async beat(progress) {
        if (progress !== undefined)
            this.progress = progress;
        await this.ensureStarted();
        try {
            await this.reports.heartbeat(this.message, this.progress);
        }
        catch (error) {
            this.logger(`${this.message.taskId}: a heartbeat failed: ${String(error)}`);
        }
    }
}
/** Runs the attempt; never throws for the function's sake. */
async function execute(message, fn, reports, lookup, logger) {
    const attempt = new Attempt(message, reports, logger);
    const finish = (outcome) => ({ outcome, started: attempt.started });
    if (fn === undefined) {
        const which = message.kind === "compensation" ? "compensation" : "task";
        return finish((0, message_1.failed)(`this worker has no ${which} function for queue \`${message.queue}\``, false));
    }
    const left = msLeft(message);
    if (left !== undefined && left <= 0)
        return finish((0, message_1.failed)("the deadline passed before the task started", true));
    let input;
    try {
        input = (0, secrets_1.resolve)(message.input, message.secrets, lookup);
    }
    catch (error) {
        if (error instanceof secrets_1.MissingSecret)
            return finish((0, message_1.failed)(error.message, false));
        throw error;
    }
    const trace = (0, tracing_1.traceTask)(message);
    const cut = new AbortController();
    const task = new task_1.Task(message, input, attempt, trace, cut.signal, logger);
    const job = trace
        .run(async () => fn(task))
        .then((value) => ({ ok: true, value }), (error) => ({ ok: false, error }));
    const timers = [];
    try {
        if (!attempt.started) {
            const quick = await within(job, left === undefined ? exports.START_REPORT_AFTER_MS : Math.min(exports.START_REPORT_AFTER_MS, left), timers);
            if (quick === undefined)
                await attempt.ensureStarted();
        }
        const period = message.heartbeatTimeoutMs;
        if (period !== undefined) {
            const beating = setInterval(() => void attempt.beat(undefined), Math.max(period / 3, 50));
            timers.push(beating);
        }
        const remaining = msLeft(message);
        const settled = await within(job, remaining === undefined ? undefined : Math.max(remaining, 0), timers);
        if (settled === undefined) {
            cut.abort(new Error("the task ran past its deadline"));
            trace.end(new Error("cut at the deadline"));
            const when = message.deadline?.toISOString() ?? "?";
            return finish((0, message_1.failed)(`timed out: the task ran past its deadline (${when}) and was cut`, true));
        }
        trace.end(settled.ok ? undefined : settled.error);
        return finish(outcomeOf(settled));
    }
    finally {
        for (const timer of timers)
            clearTimeout(timer);
    }
}
function outcomeOf(settled) {
    if (!settled.ok) {
        const error = settled.error;
        const message = error instanceof Error ? error.message || error.name : String(error);
        return (0, message_1.failed)(message, !(error instanceof task_1.Permanent));
    }
    const output = settled.value === undefined ? null : settled.value;
    try {
        JSON.stringify(output);
    }
    catch (error) {
        return (0, message_1.failed)(`the output is not JSON: ${error.message}`, false);
    }
    return (0, message_1.completed)(output);
}
/** What `job` settled to within `ms` (forever when undefined), or undefined. */
function within(job, ms, timers) {
    if (ms === undefined)
        return job;
    return new Promise((resolveWith) => {
        const timer = setTimeout(() => resolveWith(undefined), ms);
        timers.push(timer);
        void job.then((settled) => {
            clearTimeout(timer);
            resolveWith(settled);
        });
    });
}
function msLeft(message) {
    return message.deadline === undefined ? undefined : message.deadline.getTime() - Date.now();
}
