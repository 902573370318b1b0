import assert from "node:assert/strict";
import { test } from "node:test";

import { completed, parseTask, resultOf, UnreadableTask } from "../src/message";

const TASK = {
  task_id: "i:charge:forward:2",
  instance_id: "i",
  workflow: "w",
  step: "charge",
  attempt: 2,
  kind: "forward",
  queue: "payments",
  input: { amount: 3 },
  idempotency_key: "i:charge",
  deadline: "2026-11-03T10:15:30.250123456Z",
  priority: 4,
  heartbeat_timeout_ms: 1500,
  a_field_from_a_later_version: true,
};

test("reads a task and echoes its fields in results", () => {
  const task = parseTask(JSON.stringify(TASK));
  assert.equal(task.deadline?.toISOString(), "2026-11-03T10:15:30.250Z");
  assert.equal(task.heartbeatTimeoutMs, 1500);
  assert.deepEqual(resultOf(task, completed({ ok: true })), {
    task_id: "i:charge:forward:2",
    instance_id: "i",
    step: "charge",
    attempt: 2,
    kind: "forward",
    outcome: "completed",
    output: { ok: true },
  });
});

test("refuses what is not a task", () => {
  for (const body of ["not json", "[]", '{"task_id": 7}', JSON.stringify({ ...TASK, kind: "sideways" })]) {
    assert.throws(() => parseTask(body), UnreadableTask, body);
  }
});
