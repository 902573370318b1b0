"use strict";
// The AMQP transport (protocol sections 1-4, 8): consume the task queues with
// manual acks, publish results with publisher confirms, ack a task only once
// its result is confirmed, and reconnect after the broker goes away.
//
// A task redelivered after a reconnect is not run again by this worker: if it
// is still running, the new delivery is acked with its result; if its result
// was already confirmed, the delivery is acked at once.
var __createBinding = (this && this.__createBinding) || (Object.create ? (function(o, m, k, k2) {
    if (k2 === undefined) k2 = k;
    var desc = Object.getOwnPropertyDescriptor(m, k);
    if (!desc || ("get" in desc ? !m.__esModule : desc.writable || desc.configurable)) {
      desc = { enumerable: true, get: function() { return m[k]; } };
    }
    Object.defineProperty(o, k2, desc);
}) : (function(o, m, k, k2) {
    if (k2 === undefined) k2 = k;
    o[k2] = m[k];
}));
var __setModuleDefault = (this && this.__setModuleDefault) || (Object.create ? (function(o, v) {
    Object.defineProperty(o, "default", { enumerable: true, value: v });
}) : function(o, v) {
    o["default"] = v;
});
var __importStar = (this && this.__importStar) || (function () {
    var ownKeys = function(o) {
        ownKeys = Object.getOwnPropertyNames || function (o) {
            var ar = [];
            for (var k in o) if (Object.prototype.hasOwnProperty.call(o, k)) ar[ar.length] = k;
            return ar;
        };
        return ownKeys(o);
    };
    return function (mod) {
        if (mod && mod.__esModule) return mod;
        var result = {};
        if (mod != null) for (var k = ownKeys(mod), i = 0; i < k.length; i++) if (k[i] !== "default") __createBinding(result, mod, k[i]);
        __setModuleDefault(result, mod);
        return result;
    };
})();
Object.defineProperty(exports, "__esModule", { value: true });
exports.AmqpTransport = void 0;
const amqp = __importStar(require("amqplib"));
const execute_1 = require("./execute");
const message_1 = require("./message");
const presence_1 = require("./presence");
const reporter_1 = require("./reporter");
const RESULTS = "distorch.results";
/** Task ids whose results were confirmed, kept to ack their redeliveries. */
const REMEMBERED = 10_000;
const sleep = (ms) => new Promise((resolveWith) => setTimeout(resolveWith, ms));
class AmqpTransport {
    url;
    runtime;
    reportsStart = true;
    channel;
    connection;
    abandoned = false;
    connectedWaiters = [];
    running = new Map();
    confirmed = new Set();
    reporter = new reporter_1.Reporter((results) => this.send(results));
    /** Set by a `basic.return` of the publish in flight (one at a time). */
    returned = false;
    constructor(url, runtime) {
        this.url = url;
        this.runtime = runtime;
    }
    /** Works until the runtime drains, then returns once the running tasks are reported and acked. */
    async run() {
        let retryIn = 500;
        while (!this.abandoned && !(this.runtime.draining && !this.runtime.busy)) {
            let connection;
            try {
                connection = await amqp.connect(this.url, { clientProperties: { connection_name: this.runtime.name } });
            }
            catch (error) {
                this.runtime.log(`connecting to RabbitMQ failed (${String(error)}); again in ${retryIn} ms`);
                await Promise.race([sleep(retryIn), this.runtime.draining ? sleep(retryIn) : this.runtime.drained()]);
                retryIn = Math.min(retryIn * 2, 10_000);
                continue;
            }
            retryIn = 500;
            this.connection = connection;
            try {
                await this.session(connection);
            }
            catch (error) {
                this.runtime.log(`the connection to RabbitMQ failed (${String(error)}); reconnecting`);
            }
            finally {
                this.channel = undefined;
                this.connection = undefined;
                await connection.close().catch(() => undefined);
            }
        }
    }
    /** Gives up on the running tasks (a drain that timed out): their unacked deliveries go back to their queues. */
    async abandon() {
        this.abandoned = true;
        await this.connection?.close().catch(() => undefined);
    }
    async session(connection) {
        let markLost = () => undefined;
        const lost = new Promise((resolveWith) => {
            markLost = () => resolveWith("lost");
        });
        connection.on("error", () => undefined); // "close" follows
        connection.on("close", () => markLost());
        const channel = await connection.createConfirmChannel();
        channel.on("error", () => undefined);
        channel.on("close", () => markLost());
        channel.on("return", () => {
            this.returned = true;
        });
        await channel.prefetch(this.runtime.prefetch);
        const consumers = [];
        if (!this.runtime.draining) {
            for (const queue of this.runtime.queues) {
                await declare(channel, queue);
                const { consumerTag } = await channel.consume(`distorch.task.${queue}`, (message) => {
                    if (message !== null)
                        this.runtime.spawn(this.take({ channel, message }));
                });
                consumers.push(consumerTag);
            }
            this.runtime.log(`working on ${this.runtime.queues.join(", ")} as ${this.runtime.name}`);
        }
        this.channel = channel;
        for (const waiter of this.connectedWaiters.splice(0))
            waiter();
        const control = await channel.assertQueue((0, presence_1.controlQueue)(this.runtime.workerId), { exclusive: true, autoDelete: true });
        await channel.consume(control.queue, (message) => {
            if (message !== null && (0, presence_1.isDrain)(message.content)) {
                this.runtime.log("asked to drain by the engine");
                this.runtime.drain();
            }
        }, { noAck: true });
        await channel.assertQueue(presence_1.WORKERS, { durable: true, arguments: presence_1.WORKERS_ARGUMENTS });
        await this.announce((0, presence_1.presence)(this.runtime, "hello"));
        const stopBeating = (0, presence_1.beat)(this.runtime, (message) => this.announce(message));
        try {
            const why = await Promise.race([lost, this.runtime.drained().then(() => "drain")]);
            if (why === "lost") {
                this.runtime.log("lost the connection to RabbitMQ; reconnecting (unacked tasks come back)");
                return;
            }
            for (const tag of consumers)
                await channel.cancel(tag);
            this.runtime.log(`draining: ${this.running.size} task(s) running, taking no new one`);
            const end = await Promise.race([lost, this.runtime.idle().then(() => "idle")]);
            if (end === "idle")
                await this.announce((0, presence_1.presence)(this.runtime, "goodbye"));
        }
        finally {
            stopBeating();
        }
    }
    /** Sends a presence message; best effort (a failure is not the tasks' concern). */
    async announce(message) {
        const channel = this.channel;
        if (channel === undefined)
            return;
        await new Promise((resolveWith) => {
            try {
                channel.publish("", presence_1.WORKERS, Buffer.from(JSON.stringify(message)), { contentType: "application/json" }, () => resolveWith());
            }
            catch {
                resolveWith();
            }
        });
    }
    async take(delivery) {
        const { channel, message } = delivery;
        let task;
        try {
            task = (0, message_1.parseTask)(message.content);
        }
        catch (error) {
            if (!(error instanceof message_1.UnreadableTask))
                throw error;
            this.runtime.log(`an unreadable task (${error.message}) is dead-lettered: ${message.content.toString("utf8", 0, 200)}`);
            settle(() => channel.reject(message, false));
            return;
        }
        if (this.confirmed.has(task.taskId)) {
            settle(() => channel.ack(message));
            return;
        }
        const running = this.running.get(task.taskId);
        if (running !== undefined) {
            running.push(delivery);
            return;
        }
        if (this.runtime.draining) {
            settle(() => channel.nack(message, false, true));
            return;
        }
        this.running.set(task.taskId, [delivery]);
        if (!(await this.runtime.acquire())) {
            // A drain began while it waited: let another worker take it.
            for (const waiting of this.running.get(task.taskId) ?? []) {
                settle(() => waiting.channel.nack(waiting.message, false, true));
            }
            this.running.delete(task.taskId);
            return;
        }
        try {
            await this.work(task);
        }
        finally {
            this.runtime.release();
        }
    }
    async work(task) {
        this.runtime.begin(task.taskId);
        const finished = await (0, execute_1.execute)(task, this.runtime.functionFor(task), this, this.runtime.lookup, this.runtime.log);
        this.runtime.end(task.taskId, finished.outcome);
        const result = (0, message_1.resultOf)(task, finished.outcome);
        if (!finished.started)
            result.started_by = this.runtime.name;
        this.runtime.logOutcome(task, finished.outcome);
        for (let retryIn = 200;; retryIn = Math.min(retryIn * 2, 5_000)) {
            try {
                await this.reporter.publish(result);
                break;
            }
            catch (error) {
                // Confirmed, or published again on the next connection.
                this.runtime.log(`${task.taskId}: publishing the result failed (${String(error)}); again in ${retryIn} ms`);
                await sleep(retryIn);
            }
        }
        this.confirmed.add(task.taskId);
        if (this.confirmed.size > REMEMBERED) {
            const oldest = this.confirmed.values().next().value;
            if (oldest !== undefined)
                this.confirmed.delete(oldest);
        }
        for (const delivery of this.running.get(task.taskId) ?? []) {
            // A delivery of a lost channel cannot be acked: it is back in its queue.
            settle(() => delivery.channel.ack(delivery.message));
        }
        this.running.delete(task.taskId);
    }
    async started(task) {
        await this.reporter.publish((0, message_1.resultOf)(task, (0, message_1.started)(this.runtime.name)));
    }
    async heartbeat(task, progress) {
        await this.reporter.publish((0, message_1.resultOf)(task, (0, message_1.heartbeat)(progress)));
    }
    async send(results) {
        const channel = this.channel ?? (await this.connected(5_000));
        const [first] = results;
        const one = results.length === 1 && first !== undefined;
        const body = Buffer.from(JSON.stringify(one ? first : results));
        this.returned = false;
        await new Promise((resolveWith, reject) => {
            const options = { persistent: true, contentType: "application/json", mandatory: true };
            if (one)
                options.messageId = first.task_id;
            try {
                channel.publish("", RESULTS, body, options, (error) => {
                    if (error)
                        reject(new Error("the broker did not store the result (nack)"));
                    else if (this.returned)
                        reject(new Error("the broker returned the result (no results queue yet)"));
                    else
                        resolveWith();
                });
            }
            catch (error) {
                reject(error instanceof Error ? error : new Error(String(error)));
            }
        });
    }
    connected(ms) {
        return new Promise((resolveWith, reject) => {
            const timer = setTimeout(() => reject(new Error("no connection to RabbitMQ")), ms);
            this.connectedWaiters.push(() => {
                clearTimeout(timer);
                if (this.channel === undefined)
                    reject(new Error("no connection to RabbitMQ"));
                else
                    resolveWith(this.channel);
            });
        });
    }
}
exports.AmqpTransport = AmqpTransport;
/**
 * The queue and its dead-letter queue, with exactly the engine's arguments
 * (protocol, section 1), so a worker may start first.
 */
async function declare(channel, queue) {
    await channel.assertExchange("distorch.tasks", "direct", { durable: true });
    await channel.assertExchange("distorch.dlx", "direct", { durable: true });
    await channel.assertQueue(`distorch.task.${queue}`, {
        durable: true,
        arguments: {
            "x-queue-type": "quorum",
            "x-dead-letter-exchange": "distorch.dlx",
            "x-dead-letter-routing-key": queue,
        },
    });
    await channel.bindQueue(`distorch.task.${queue}`, "distorch.tasks", queue);
    await channel.assertQueue(`distorch.dlq.${queue}`, { durable: true, arguments: { "x-queue-type": "quorum" } });
    await channel.bindQueue(`distorch.dlq.${queue}`, "distorch.dlx", queue);
}
/** Acks, nacks or rejects; on a closed channel there is nothing to do (the broker requeued it). */
function settle(action) {
    try {
        action();
    }
    catch {
        // its channel is gone
    }
}
