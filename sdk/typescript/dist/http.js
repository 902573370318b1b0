"use strict";
// The HTTP transport: long-polls `GET /api/v1/tasks/poll` for tasks and
// reports over `POST /api/v1/tasks/{task_id}/heartbeat|complete|fail`
// (docs/api.md, "Workers over HTTP"). The node records a task's start when it
// hands it out, and the task has left its queue then: a report is retried
// until the node answers it, 200 (recorded) or 409 (changed nothing).
Object.defineProperty(exports, "__esModule", { value: true });
exports.HttpTransport = exports.POLL_WAIT_SECONDS = void 0;
const execute_1 = require("./execute");
const message_1 = require("./message");
/**
 * How long a poll waits for a task. A drain waits for the open polls (a poll
 * cut off could lose the task it was being handed), so keep it short.
 */
exports.POLL_WAIT_SECONDS = 10;
/** A report is retried for this long, then given up (the step times out). */
const REPORT_PATIENCE_MS = 300_000;
const sleep = (ms) => new Promise((resolveWith) => setTimeout(resolveWith, ms));
class PollRefused extends Error {
    name = "PollRefused";
}
class HttpTransport {
    runtime;
    reportsStart = false;
    url;
    headers;
    constructor(url, token, runtime) {
        this.runtime = runtime;
        this.url = url.replace(/\/+$/, "");
        this.headers = token === undefined ? {} : { authorization: `Bearer ${token}` };
    }
    /** Polls each queue (`prefetch` polls open per queue) until the runtime drains. */
    async run() {
        this.runtime.log(`polling ${this.url} for ${this.runtime.queues.join(", ")} as ${this.runtime.name}`);
        const pollers = [];
        for (const queue of this.runtime.queues) {
            for (let n = 0; n < Math.max(1, this.runtime.prefetch); n += 1)
                pollers.push(this.poll(queue));
        }
        await Promise.all(pollers);
        await this.runtime.idle();
    }
    /**
     * A poll waits for a free slot, not holding one while it waits for a task:
     * a task it gets may wait for a slot (as a prefetched one).
     */
    async poll(queue) {
        let retryIn = 500;
        while (await this.runtime.vacancy()) {
            let task;
            try {
                task = await this.take(queue);
                retryIn = 500;
            }
            catch (error) {
                this.runtime.log(`polling ${queue} failed (${String(error)}); again in ${retryIn} ms`);
                await sleep(retryIn);
                retryIn = Math.min(retryIn * 2, 10_000);
                continue;
            }
            if (task !== undefined)
                this.runtime.spawn(this.work(task));
        }
    }
    async take(queue) {
        const query = new URLSearchParams({
            queue,
            wait: String(exports.POLL_WAIT_SECONDS),
            worker_id: this.runtime.workerId,
            name: this.runtime.name,
        });
        const response = await fetch(`${this.url}/api/v1/tasks/poll?${query}`, {
            headers: this.headers,
            signal: AbortSignal.timeout((exports.POLL_WAIT_SECONDS + 30) * 1000),
        });
        if (response.status === 204) {
            if (response.headers.get("distorch-worker-draining") === "true") {
                this.runtime.log("asked to drain by the engine");
                this.runtime.drain();
            }
            return undefined;
        }
        const body = await response.text();
        if (response.status !== 200)
            throw new PollRefused(`HTTP ${response.status}: ${body.slice(0, 300)}`);
        try {
            return (0, message_1.parseTask)(body);
        }
        catch (error) {
            if (!(error instanceof message_1.UnreadableTask))
                throw error;
            // It left the queue: the step times out.
            this.runtime.log(`the node handed out an unreadable task (${error.message}): ${body.slice(0, 200)}`);
            return undefined;
        }
    }
    async work(task) {
        // Handed out, it is this worker's: it runs even if a drain began.
        await this.runtime.acquireIgnoringDrain();
        let finished;
        this.runtime.begin(task.taskId);
        try {
            finished = await (0, execute_1.execute)(task, this.runtime.functionFor(task), this, this.runtime.lookup, this.runtime.log);
        }
        finally {
            this.runtime.release();
        }
        this.runtime.end(task.taskId, finished.outcome);
        this.runtime.logOutcome(task, finished.outcome);
        await this.reportFinal(task, finished.outcome);
    }
    async reportFinal(task, outcome) {
        const [path, body] = outcome.outcome === "completed"
            ? ["complete", { output: outcome.output }]
            : outcome.outcome === "failed"
                ? ["fail", outcome.error]
                : ["fail", { message: "no final outcome", retryable: true }];
        const giveUp = Date.now() + REPORT_PATIENCE_MS;
        for (let retryIn = 200;; retryIn = Math.min(retryIn * 2, 5_000)) {
            let problem;
            try {
                const status = await this.post(task, path, body);
                if (status === 200 || status === 409)
                    return;
                if (status < 500 && status !== 429) {
                    this.runtime.log(`${task.taskId}: the node refused the result (HTTP ${status})`);
                    return;
                }
                problem = `HTTP ${status}`;
            }
            catch (error) {
                problem = String(error);
            }
            if (Date.now() > giveUp) {
                this.runtime.log(`${task.taskId}: gave up reporting the result (${problem})`);
                return;
            }
            this.runtime.log(`${task.taskId}: reporting the result failed (${problem}); again in ${retryIn} ms`);
            await sleep(retryIn);
        }
    }
    /** Gives up on the running tasks (a drain that timed out): their steps time out. */
    async abandon() {
        this.runtime.log("abandoning the running tasks: their steps will time out");
    }
    async started() {
        // The poll recorded it.
    }
    async heartbeat(task, progress) {
        const status = await this.post(task, "heartbeat", progress === undefined ? {} : { progress });
        if (status !== 200 && status !== 409)
            throw new PollRefused(`HTTP ${status}`);
    }
    async post(task, path, body) {
        const id = encodeURIComponent(task.taskId).replaceAll("%3A", ":");
        const response = await fetch(`${this.url}/api/v1/tasks/${id}/${path}`, {
            method: "POST",
            headers: { ...this.headers, "content-type": "application/json" },
            body: JSON.stringify(body),
            signal: AbortSignal.timeout(30_000),
        });
        await response.arrayBuffer();
        return response.status;
    }
}
exports.HttpTransport = HttpTransport;
