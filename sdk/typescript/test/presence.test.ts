import assert from "node:assert/strict";
import { test } from "node:test";

import { isDrain, presence } from "../src/presence";
import { Runtime } from "../src/runtime";

test("a presence message carries the whole picture", () => {
  const runtime = new Runtime("payments-1", new Map([[Runtime.key("payments", "forward"), async () => null]]), () => undefined, 4, 4, () => undefined);
  runtime.begin("t:charge:forward:1");
  const busy = presence(runtime, "heartbeat");
  assert.equal(busy.type, "heartbeat");
  assert.equal(busy.worker_id, runtime.workerId);
  assert.deepEqual(busy.queues, ["payments"]);
  assert.equal(busy.capacity, 4);
  assert.deepEqual(busy.in_flight, ["t:charge:forward:1"]);
  assert.equal(busy.draining, false);
  runtime.end("t:charge:forward:1", { outcome: "failed", error: { message: "no", retryable: false } });
  runtime.drain();
  const goodbye = presence(runtime, "goodbye");
  assert.deepEqual(goodbye.in_flight, []);
  assert.equal(goodbye.failed, 1);
  assert.equal(goodbye.completed, 0);
  assert.equal(goodbye.draining, true);
});

test("only a drain signal drains", () => {
  assert.equal(isDrain(Buffer.from('{"type":"drain"}')), true);
  assert.equal(isDrain('{"type":"pause"}'), false);
  assert.equal(isDrain("not json"), false);
});
