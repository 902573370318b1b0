// The conformance cases' functions (cases.json) served by the TypeScript SDK.
//
//     node typescript_worker.js amqp AMQP_URL
//     node typescript_worker.js http NODE_URL [TOKEN]

"use strict";
const { isDeepStrictEqual } = require("node:util");
const path = require("node:path");
const { Permanent, Worker } = require(path.join(__dirname, "..", "typescript"));

const FIXTURE = require("./cases.json");
const CASES = new Map(FIXTURE.cases.map((c) => [c.name, c]));
const FIELDS = { kind: "kind", attempt: "attempt", idempotency_key: "idempotencyKey", step: "step" };
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function run(task) {
  const fn = CASES.get(task.step).function;
  if (fn.hangs) await sleep(3_600_000);
  if ("progress" in fn) await task.heartbeat({ progress: fn.progress, message: "progress reported" });
  if ("sleeps_ms" in fn) await sleep(fn.sleeps_ms);
  if ("fails" in fn) throw fn.permanent ? new Permanent(fn.fails) : new Error(fn.fails);
  if ("returns_task" in fn) return Object.fromEntries(fn.returns_task.map((name) => [name, task[FIELDS[name]]]));
  if ("returns_input_equals" in fn) return { input_as_expected: isDeepStrictEqual(task.input, fn.returns_input_equals) };
  if (fn.returns_trace_id) return { trace_id: task.traceparent ? task.traceparent.split("-")[1] : null };
  if (fn.returns_unserialisable) return { value: 1n };
  return fn.returns;
}

const [transport, url, token] = process.argv.slice(2);
const worker =
  transport === "amqp"
    ? new Worker({ amqpUrl: url, name: "conformance-typescript" })
    : new Worker({ httpUrl: url, token, name: "conformance-typescript" });
worker.task(FIXTURE.queue, run).compensation(FIXTURE.queue, run);
worker.run().catch((error) => {
  console.error(error);
  process.exit(1);
});
