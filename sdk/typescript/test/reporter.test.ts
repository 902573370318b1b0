import assert from "node:assert/strict";
import { test } from "node:test";

import type { Result } from "../src/message";
import { Reporter } from "../src/reporter";

const result = (n: number) => ({ task_id: String(n) }) as unknown as Result;

test("results ready while a publish waits go out together", async () => {
  const sent: string[][] = [];
  let release: () => void = () => undefined;
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  const reporter = new Reporter(async (results) => {
    sent.push(results.map((r) => r.task_id));
    if (sent.length === 1) await held;
  });
  const all = [1, 2, 3, 4].map((n) => reporter.publish(result(n)));
  release();
  await Promise.all(all);
  assert.deepEqual(sent, [["1"], ["2", "3", "4"]]);
});

test("a failed publish fails each of its results", async () => {
  const reporter = new Reporter(async () => {
    throw new Error("gone");
  });
  const outcomes = await Promise.allSettled([reporter.publish(result(1)), reporter.publish(result(2))]);
  assert.ok(outcomes.every((outcome) => outcome.status === "rejected"));
});
