"""A worker for tests/sdk_workers.rs (not a pytest module): queue `slow`
sleeps `input.seconds`, queue `hung` hangs on attempt 1 and completes on the
next. Each run of a function is logged, to count them.

    python3 e2e_worker.py amqp URL NAME
"""

import asyncio
import sys

from distorch import Task, Worker

worker = Worker(amqp_url=sys.argv[2], name=sys.argv[3]) if sys.argv[1] == "amqp" else \
    Worker(http_url=sys.argv[2], name=sys.argv[3])


@worker.task("slow")
async def slow(task: Task) -> dict[str, object]:
    task.log("running %s", task.instance_id)
    await asyncio.sleep(task.input["seconds"])
    return {"slept": task.input["seconds"], "by": sys.argv[3]}


@worker.task("hung")
async def hung(task: Task) -> dict[str, object]:
    task.log("running %s", task.instance_id)
    if task.attempt == 1:
        await asyncio.Event().wait()
    return {"attempt": task.attempt}


worker.run()
