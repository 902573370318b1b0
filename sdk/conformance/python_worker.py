"""The conformance cases' functions (cases.json) served by the Python SDK.

    python3 python_worker.py amqp AMQP_URL
    python3 python_worker.py http NODE_URL [TOKEN]
"""

import asyncio
import json
import pathlib
import sys
from typing import Any

from distorch import Permanent, Task, Worker

FIXTURE = json.loads((pathlib.Path(__file__).parent / "cases.json").read_text())
CASES = {case["name"]: case for case in FIXTURE["cases"]}
FIELDS = {"kind": "kind", "attempt": "attempt", "idempotency_key": "idempotency_key", "step": "step"}


async def run(task: Task) -> Any:
    function = CASES[task.step]["function"]
    if function.get("hangs"):
        await asyncio.sleep(3600)
    if "progress" in function:
        await task.heartbeat(progress=function["progress"], message="progress reported")
    if "sleeps_ms" in function:
        await asyncio.sleep(function["sleeps_ms"] / 1000)
    if "fails" in function:
        raise Permanent(function["fails"]) if function["permanent"] else RuntimeError(function["fails"])
    if "returns_task" in function:
        return {name: getattr(task, FIELDS[name]) for name in function["returns_task"]}
    if "returns_input_equals" in function:
        return {"input_as_expected": task.input == function["returns_input_equals"]}
    if function.get("returns_trace_id"):
        return {"trace_id": task.traceparent.split("-")[1] if task.traceparent else None}
    if function.get("returns_unserialisable"):
        return {"value": object()}
    return function.get("returns")


def main() -> None:
    transport, url = sys.argv[1], sys.argv[2]
    if transport == "amqp":
        worker = Worker(amqp_url=url, name="conformance-python")
    else:
        worker = Worker(http_url=url, token=sys.argv[3] if len(sys.argv) > 3 else None,
                        name="conformance-python")
    worker.task(FIXTURE["queue"])(run)
    worker.compensation(FIXTURE["queue"])(run)
    worker.run()


if __name__ == "__main__":
    main()
