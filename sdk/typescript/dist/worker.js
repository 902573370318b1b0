"use strict";
// `Worker`: functions registered by queue, served over AMQP or HTTP long-poll
// until SIGTERM (or SIGINT), then drained.
Object.defineProperty(exports, "__esModule", { value: true });
exports.Worker = void 0;
const node_os_1 = require("node:os");
const amqp_1 = require("./amqp");
const http_1 = require("./http");
const runtime_1 = require("./runtime");
const secrets_1 = require("./secrets");
const stderrLogger = (line) => process.stderr.write(`${new Date().toISOString()} ${line}\n`);
class Worker {
    options;
    name;
    functions = new Map();
    runtime;
    constructor(options) {
        this.options = options;
        if ((options.amqpUrl === undefined) === (options.httpUrl === undefined)) {
            throw new TypeError("give either amqpUrl or httpUrl (with token)");
        }
        if (options.concurrency !== undefined && !(Number.isInteger(options.concurrency) && options.concurrency >= 1)) {
            throw new RangeError("concurrency is an integer of at least 1");
        }
        this.name = options.name ?? `typescript@${(0, node_os_1.hostname)()}:${process.pid}`;
    }
    /** Registers the function that runs the steps of `queue`. */
    task(queue, fn) {
        return this.register(queue, "forward", fn);
    }
    /** Registers the function that undoes the steps of `queue`. */
    compensation(queue, fn) {
        return this.register(queue, "compensation", fn);
    }
    register(queue, kind, fn) {
        const key = runtime_1.Runtime.key(queue, kind);
        if (this.functions.has(key))
            throw new Error(`queue \`${queue}\` already has a ${kind} function`);
        this.functions.set(key, fn);
        return this;
    }
    /**
     * Serves until SIGTERM or SIGINT (or `stop()`), then drains: takes no new
     * task, finishes and reports the running ones, and resolves.
     */
    async run() {
        if (this.functions.size === 0)
            throw new Error("no function registered: use worker.task(queue, fn)");
        const { options } = this;
        const concurrency = options.concurrency ?? 16;
        const prefetch = options.prefetch ?? (options.amqpUrl !== undefined ? concurrency : 1);
        const log = options.logger ?? stderrLogger;
        const runtime = new runtime_1.Runtime(this.name, new Map(this.functions), (0, secrets_1.lookupOf)(options.secrets), concurrency, prefetch, log);
        this.runtime = runtime;
        const onSignal = () => this.stop();
        process.on("SIGTERM", onSignal);
        process.on("SIGINT", onSignal);
        const transport = options.amqpUrl !== undefined
            ? new amqp_1.AmqpTransport(options.amqpUrl, runtime)
            : new http_1.HttpTransport(options.httpUrl, options.token, runtime);
        try {
            const serving = transport.run();
            if (options.drainTimeoutMs === undefined) {
                await serving;
            }
            else {
                await Promise.race([serving, runtime.drained()]);
                const timedOut = await Promise.race([
                    serving.then(() => false),
                    new Promise((resolveWith) => setTimeout(() => resolveWith(true), options.drainTimeoutMs).unref()),
                ]);
                if (timedOut) {
                    log(`the drain took over ${options.drainTimeoutMs} ms; giving up on the running tasks`);
                    await transport.abandon();
                }
            }
        }
        finally {
            process.off("SIGTERM", onSignal);
            process.off("SIGINT", onSignal);
            this.runtime = undefined;
        }
        log("drained; stopped");
    }
    /** Begins the drain of a running worker. */
    stop() {
        if (this.runtime !== undefined && !this.runtime.draining) {
            this.runtime.log("stopping: finishing the running tasks, taking no new one");
            this.runtime.drain();
        }
    }
}
exports.Worker = Worker;
