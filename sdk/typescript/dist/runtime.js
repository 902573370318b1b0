"use strict";
// What the transports share: the functions by queue and kind, the
// concurrency slots, the work in flight (to wait for on a drain) and the
// worker's log lines.
Object.defineProperty(exports, "__esModule", { value: true });
exports.Runtime = void 0;
const node_crypto_1 = require("node:crypto");
const node_os_1 = require("node:os");
/** This SDK's version, announced in presence messages. */
const SDK_VERSION = "0.1.0";
class Runtime {
    name;
    functions;
    lookup;
    concurrency;
    prefetch;
    log;
    queues;
    free;
    waiters = [];
    /** Waiters that take a slot even during a drain. */
    committed = [];
    spawned = new Set();
    drainingNow = false;
    drainListeners = [];
    /** Presence (protocol section 12). */
    workerId = (0, node_crypto_1.randomUUID)();
    host = (0, node_os_1.hostname)();
    version = SDK_VERSION;
    startedAt = new Date().toISOString();
    inFlight = new Set();
    completed = 0;
    failed = 0;
    constructor(name, functions, lookup, concurrency, prefetch, log) {
        this.name = name;
        this.functions = functions;
        this.lookup = lookup;
        this.concurrency = concurrency;
        this.prefetch = prefetch;
        this.log = log;
        this.queues = [...new Set([...functions.keys()].map((key) => key.split("\u0000")[0]))].sort();
        this.free = concurrency;
    }
    static key(queue, kind) {
        return `${queue}\u0000${kind}`;
    }
    functionFor(task) {
        return this.functions.get(Runtime.key(task.queue, task.kind));
    }
    get draining() {
        return this.drainingNow;
    }
    /** Begins the drain: no slot is handed out any more. */
    drain() {
        if (this.drainingNow)
            return;
        this.drainingNow = true;
        for (const waiter of this.waiters.splice(0))
            waiter(false);
        for (const listener of this.drainListeners.splice(0))
            listener();
    }
    /** Resolves when the drain begins. */
    drained() {
        if (this.drainingNow)
            return Promise.resolve();
        return new Promise((resolveWith) => this.drainListeners.push(resolveWith));
    }
    /** One of the `concurrency` slots (true), or none once a drain began. */
    acquire() {
        if (this.drainingNow)
            return Promise.resolve(false);
        if (this.free > 0) {
            this.free -= 1;
            return Promise.resolve(true);
        }
        return new Promise((resolveWith) => this.waiters.push(resolveWith));
    }
    /**
     * Waits until a slot is free, without taking it (true), or until a drain
     * begins (false): a long poll asks for a task only then.
     */
    async vacancy() {
        if (!(await this.acquire()))
            return false;
        this.release();
        return true;
    }
    /** A slot even during a drain (for a task already taken off its queue). */
    acquireIgnoringDrain() {
        if (this.free > 0) {
            this.free -= 1;
            return Promise.resolve();
        }
        return new Promise((resolveWith) => this.committed.push(resolveWith));
    }
    release() {
        const committed = this.committed.shift();
        if (committed !== undefined)
            return committed();
        const next = this.drainingNow ? undefined : this.waiters.shift();
        if (next === undefined)
            this.free += 1;
        else
            next(true);
    }
    spawn(work) {
        const tracked = work.catch((error) => this.log(`a task of the worker crashed: ${String(error)}`));
        this.spawned.add(tracked);
        void tracked.finally(() => this.spawned.delete(tracked));
    }
    get busy() {
        return this.spawned.size > 0;
    }
    /** Resolves once nothing spawned is left. */
    async idle() {
        while (this.spawned.size > 0)
            await Promise.all([...this.spawned]);
    }
    /** A task starts running (counted in `inFlight`). */
    begin(taskId) {
        this.inFlight.add(taskId);
    }
    /** A task ended with `outcome` (counted as completed or failed). */
    end(taskId, outcome) {
        this.inFlight.delete(taskId);
        if (outcome.outcome === "failed")
            this.failed += 1;
        else
            this.completed += 1;
    }
    logOutcome(task, outcome) {
        if (outcome.outcome === "failed") {
            const kind = outcome.error.retryable ? "retryable" : "permanent";
            this.log(`${task.taskId}: failed (${kind}) ${outcome.error.message}`);
        }
        else {
            this.log(`${task.taskId}: ${outcome.outcome}`);
        }
    }
}
exports.Runtime = Runtime;
