// The run of one attempt, with a transport that records what it reports.

import assert from "node:assert/strict";
import { test } from "node:test";

import { execute, type Reports, type TaskFunction } from "../src/execute";
import { parseTask } from "../src/message";
import { lookupOf } from "../src/secrets";
import { Permanent } from "../src/task";

class Recorded implements Reports {
  readonly reportsStart = true;
  sent: Array<[string, number | undefined]> = [];
  async started(): Promise<void> {
    this.sent.push(["started", undefined]);
  }
  async heartbeat(_task: unknown, progress: number | undefined): Promise<void> {
    this.sent.push(["heartbeat", progress]);
  }
}

async function run(fn: TaskFunction, fields: Record<string, unknown> = {}) {
  const message = parseTask(
    JSON.stringify({
      task_id: "i:s:forward:1",
      instance_id: "i",
      workflow: "w",
      step: "s",
      attempt: 1,
      kind: "forward",
      queue: "q",
      input: {},
      idempotency_key: "i:s",
      ...fields,
    }),
  );
  const reports = new Recorded();
  const finished = await execute(message, fn, reports, lookupOf({ k: "v" }), () => undefined);
  return { ...finished, reports };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

test("a quick function is reported once with its output", async () => {
  const { outcome, started, reports } = await run((task) => ({ key: task.idempotencyKey, input: task.input }), {
    input: { a: "${ secrets.k }" },
    secrets: ["/a"],
  });
  assert.deepEqual(outcome, { outcome: "completed", output: { key: "i:s", input: { a: "v" } } });
  assert.equal(started, false);
  assert.deepEqual(reports.sent, []);
});

test("Permanent is not retryable and other errors are", async () => {
  const declined = await run(() => {
    throw new Permanent("card declined");
  });
  assert.deepEqual(declined.outcome, { outcome: "failed", error: { message: "card declined", retryable: false } });
  const broken = await run(async () => {
    throw new Error("provider down");
  });
  assert.deepEqual(broken.outcome, { outcome: "failed", error: { message: "provider down", retryable: true } });
});

test("a slow function reports its start, then heartbeats on a timer", async () => {
  const { outcome, started, reports } = await run(
    async (task) => {
      await task.heartbeat({ progress: 30 });
      await sleep(500);
    },
    { heartbeat_timeout_ms: 150 },
  );
  assert.deepEqual(outcome, { outcome: "completed", output: null });
  assert.equal(started, true);
  assert.deepEqual(reports.sent.slice(0, 2), [["started", undefined], ["heartbeat", 30]]);
  assert.ok(reports.sent.length >= 4, JSON.stringify(reports.sent));
  assert.ok(reports.sent.slice(1).every(([, progress]) => progress === 30));
});

test("a hung function is cut at the deadline, and its signal aborted", async () => {
  let signal: AbortSignal | undefined;
  const { outcome } = await run(
    (task) => {
      signal = task.signal;
      return new Promise(() => undefined);
    },
    { deadline: new Date(Date.now() + 300).toISOString() },
  );
  assert.equal(outcome.outcome, "failed");
  assert.ok(outcome.outcome === "failed" && outcome.error.retryable && outcome.error.message.includes("past its deadline"));
  assert.equal(signal?.aborted, true);
});

test("a missing secret fails for good without running", async () => {
  let ran = false;
  const { outcome } = await run(
    () => {
      ran = true;
    },
    { input: "${ secrets.nope }", secrets: [""] },
  );
  assert.deepEqual(outcome, {
    outcome: "failed",
    error: { message: "secret `nope` is not set in this worker", retryable: false },
  });
  assert.equal(ran, false);
});
