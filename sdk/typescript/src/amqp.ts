// The AMQP transport (protocol sections 1-4, 8): consume the task queues with
// manual acks, publish results with publisher confirms, ack a task only once
// its result is confirmed, and reconnect after the broker goes away.
//
// A task redelivered after a reconnect is not run again by this worker: if it
// is still running, the new delivery is acked with its result; if its result
// was already confirmed, the delivery is acked at once.

import * as amqp from "amqplib";

import { execute, type Reports } from "./execute";
import { heartbeat, parseTask, resultOf, started, UnreadableTask, type Result, type TaskMessage } from "./message";
import { beat, controlQueue, isDrain, presence, WORKERS, WORKERS_ARGUMENTS, type Presence } from "./presence";
import { Reporter } from "./reporter";
import type { Runtime } from "./runtime";

const RESULTS = "distorch.results";
/** Task ids whose results were confirmed, kept to ack their redeliveries. */
const REMEMBERED = 10_000;

type Delivery = { channel: amqp.ConfirmChannel; message: amqp.ConsumeMessage };

const sleep = (ms: number) => new Promise<void>((resolveWith) => setTimeout(resolveWith, ms));

export class AmqpTransport implements Reports {
  readonly reportsStart = true;
  private channel: amqp.ConfirmChannel | undefined;
  private connection: amqp.ChannelModel | undefined;
  private abandoned = false;
  private connectedWaiters: Array<() => void> = [];
  private readonly running = new Map<string, Delivery[]>();
  private readonly confirmed = new Set<string>();
  private readonly reporter = new Reporter((results) => this.send(results));
  /** Set by a `basic.return` of the publish in flight (one at a time). */
  private returned = false;

  constructor(private readonly url: string, private readonly runtime: Runtime) {}

  /** Works until the runtime drains, then returns once the running tasks are reported and acked. */
  async run(): Promise<void> {
    let retryIn = 500;
    while (!this.abandoned && !(this.runtime.draining && !this.runtime.busy)) {
      let connection: amqp.ChannelModel;
      try {
        connection = await amqp.connect(this.url, { clientProperties: { connection_name: this.runtime.name } });
      } catch (error) {
        this.runtime.log(`connecting to RabbitMQ failed (${String(error)}); again in ${retryIn} ms`);
        await Promise.race([sleep(retryIn), this.runtime.draining ? sleep(retryIn) : this.runtime.drained()]);
        retryIn = Math.min(retryIn * 2, 10_000);
        continue;
      }
      retryIn = 500;
      this.connection = connection;
      try {
        await this.session(connection);
      } catch (error) {
        this.runtime.log(`the connection to RabbitMQ failed (${String(error)}); reconnecting`);
      } finally {
        this.channel = undefined;
        this.connection = undefined;
        await connection.close().catch(() => undefined);
      }
    }
  }

  /** Gives up on the running tasks (a drain that timed out): their unacked deliveries go back to their queues. */
  async abandon(): Promise<void> {
    this.abandoned = true;
    await this.connection?.close().catch(() => undefined);
  }

  private async session(connection: amqp.ChannelModel): Promise<void> {
    let markLost: () => void = () => undefined;
    const lost = new Promise<"lost">((resolveWith) => {
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
    const consumers: string[] = [];
    if (!this.runtime.draining) {
      for (const queue of this.runtime.queues) {
        await declare(channel, queue);
        const { consumerTag } = await channel.consume(`distorch.task.${queue}`, (message) => {
          if (message !== null) this.runtime.spawn(this.take({ channel, message }));
        });
        consumers.push(consumerTag);
      }
      this.runtime.log(`working on ${this.runtime.queues.join(", ")} as ${this.runtime.name}`);
    }
    this.channel = channel;
    for (const waiter of this.connectedWaiters.splice(0)) waiter();
    const control = await channel.assertQueue(controlQueue(this.runtime.workerId), { exclusive: true, autoDelete: true });
    await channel.consume(
      control.queue,
      (message) => {
        if (message !== null && isDrain(message.content)) {
          this.runtime.log("asked to drain by the engine");
          this.runtime.drain();
        }
      },
      { noAck: true },
    );
    await channel.assertQueue(WORKERS, { durable: true, arguments: WORKERS_ARGUMENTS });
    await this.announce(presence(this.runtime, "hello"));
    const stopBeating = beat(this.runtime, (message) => this.announce(message));
    try {
      const why = await Promise.race([lost, this.runtime.drained().then(() => "drain" as const)]);
      if (why === "lost") {
        this.runtime.log("lost the connection to RabbitMQ; reconnecting (unacked tasks come back)");
        return;
      }
      for (const tag of consumers) await channel.cancel(tag);
      this.runtime.log(`draining: ${this.running.size} task(s) running, taking no new one`);
      const end = await Promise.race([lost, this.runtime.idle().then(() => "idle" as const)]);
      if (end === "idle") await this.announce(presence(this.runtime, "goodbye"));
    } finally {
      stopBeating();
    }
  }

  /** Sends a presence message; best effort (a failure is not the tasks' concern). */
  private async announce(message: Presence): Promise<void> {
    const channel = this.channel;
    if (channel === undefined) return;
    await new Promise<void>((resolveWith) => {
      try {
        channel.publish("", WORKERS, Buffer.from(JSON.stringify(message)), { contentType: "application/json" }, () =>
          resolveWith(),
        );
      } catch {
        resolveWith();
      }
    });
  }

  private async take(delivery: Delivery): Promise<void> {
    const { channel, message } = delivery;
    let task: TaskMessage;
    try {
      task = parseTask(message.content);
    } catch (error) {
      if (!(error instanceof UnreadableTask)) throw error;
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
    } finally {
      this.runtime.release();
    }
  }

  private async work(task: TaskMessage): Promise<void> {
    this.runtime.begin(task.taskId);
    const finished = await execute(task, this.runtime.functionFor(task), this, this.runtime.lookup, this.runtime.log);
    this.runtime.end(task.taskId, finished.outcome);
    const result = resultOf(task, finished.outcome);
    if (!finished.started) result.started_by = this.runtime.name;
    this.runtime.logOutcome(task, finished.outcome);
    for (let retryIn = 200; ; retryIn = Math.min(retryIn * 2, 5_000)) {
      try {
        await this.reporter.publish(result);
        break;
      } catch (error) {
        // Confirmed, or published again on the next connection.
        this.runtime.log(`${task.taskId}: publishing the result failed (${String(error)}); again in ${retryIn} ms`);
        await sleep(retryIn);
      }
    }
    this.confirmed.add(task.taskId);
    if (this.confirmed.size > REMEMBERED) {
      const oldest = this.confirmed.values().next().value;
      if (oldest !== undefined) this.confirmed.delete(oldest);
    }
    for (const delivery of this.running.get(task.taskId) ?? []) {
      // A delivery of a lost channel cannot be acked: it is back in its queue.
      settle(() => delivery.channel.ack(delivery.message));
    }
    this.running.delete(task.taskId);
  }

  async started(task: TaskMessage): Promise<void> {
    await this.reporter.publish(resultOf(task, started(this.runtime.name)));
  }

  async heartbeat(task: TaskMessage, progress: number | undefined): Promise<void> {
    await this.reporter.publish(resultOf(task, heartbeat(progress)));
  }

  private async send(results: Result[]): Promise<void> {
    const channel = this.channel ?? (await this.connected(5_000));
    const [first] = results;
    const one = results.length === 1 && first !== undefined;
    const body = Buffer.from(JSON.stringify(one ? first : results));
    this.returned = false;
    await new Promise<void>((resolveWith, reject) => {
      const options: amqp.Options.Publish = { persistent: true, contentType: "application/json", mandatory: true };
      if (one) options.messageId = first.task_id;
      try {
        channel.publish("", RESULTS, body, options, (error: unknown) => {
          if (error) reject(new Error("the broker did not store the result (nack)"));
          else if (this.returned) reject(new Error("the broker returned the result (no results queue yet)"));
          else resolveWith();
        });
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
  }

  private connected(ms: number): Promise<amqp.ConfirmChannel> {
    return new Promise((resolveWith, reject) => {
      const timer = setTimeout(() => reject(new Error("no connection to RabbitMQ")), ms);
      this.connectedWaiters.push(() => {
        clearTimeout(timer);
        if (this.channel === undefined) reject(new Error("no connection to RabbitMQ"));
        else resolveWith(this.channel);
      });
    });
  }
}

/**
 * The queue and its dead-letter queue, with exactly the engine's arguments
 * (protocol, section 1), so a worker may start first.
 */
async function declare(channel: amqp.Channel, queue: string): Promise<void> {
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
function settle(action: () => void): void {
  try {
    action();
  } catch {
    // its channel is gone
  }
}
