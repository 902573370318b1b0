// The bench's TypeScript worker: answers every task of queue `bench` with `{}`.
"use strict";
const path = require("node:path");
const { Worker } = require(path.join(__dirname, "..", "typescript"));

const worker = new Worker({ amqpUrl: process.argv[2], name: "bench-typescript", concurrency: Number(process.argv[3]) });
worker.task("bench", () => ({})).compensation("bench", () => ({}));
worker.run().catch((error) => {
  console.error(error);
  process.exit(1);
});
