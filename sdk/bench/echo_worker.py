"""The bench's Python worker: answers every task of queue `bench` with `{}`."""

import sys

from distorch import Task, Worker

worker = Worker(amqp_url=sys.argv[1], name="bench-python", concurrency=int(sys.argv[2]))


@worker.task("bench")
async def step(task: Task) -> dict[str, object]:
    return {}


@worker.compensation("bench")
async def undo(task: Task) -> dict[str, object]:
    return {}


worker.run()
