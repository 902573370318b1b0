// A worker for tests/sdk_workers.rs (not a unit test): queue `slow` sleeps
// `input.seconds`, queue `hung` hangs on attempt 1 and completes on the next.
// Each run of a function is logged, to count them.
//
//     node e2e_worker.js amqp URL NAME

"use strict";
const { Worker } = require("..");

const [transport, url, name] = process.argv.slice(2);
const worker =
  transport === "amqp" ? new Worker({ amqpUrl: url, name }) : new Worker({ httpUrl: url, name });

worker.task("slow", async (task) => {
  task.log("running %s", task.instanceId);
  await new Promise((resolve) => setTimeout(resolve, task.input.seconds * 1000));
  return { slept: task.input.seconds, by: name };
});
worker.task("hung", async (task) => {
  task.log("running %s", task.instanceId);
  if (task.attempt === 1) await new Promise(() => undefined);
  return { attempt: task.attempt };
});

worker.run().catch((error) => {
  console.error(error);
  process.exit(1);
});
