"""The run of one attempt, with a transport that records what it reports."""

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from typing import Any, Optional

from distorch import Permanent, Task
from distorch._execute import Handler, execute
from distorch._message import TaskMessage
from distorch._secrets import lookup_of


class Recorded:
    reports_start = True

    def __init__(self) -> None:
        self.sent: list[tuple[str, Optional[int]]] = []

    async def started(self, task: TaskMessage) -> None:
        self.sent.append(("started", None))

    async def heartbeat(self, task: TaskMessage, progress: Optional[int]) -> None:
        self.sent.append(("heartbeat", progress))


def message(**fields: Any) -> TaskMessage:
    base = {"task_id": "i:s:forward:1", "instance_id": "i", "workflow": "w", "step": "s", "attempt": 1,
            "kind": "forward", "queue": "q", "input": {}, "idempotency_key": "i:s"}
    return TaskMessage.parse(base | fields)


async def run(function: Any, **fields: Any) -> tuple[dict[str, Any], bool, Recorded]:
    reports = Recorded()
    with ThreadPoolExecutor(2) as threads:
        finished = await execute(message(**fields), Handler(function), reports, lookup_of({"k": "v"}), threads)
    return finished.outcome, finished.started, reports


async def test_a_quick_function_is_reported_once_with_its_output() -> None:
    async def quick(task: Task) -> dict[str, str]:
        return {"key": task.idempotency_key, "input": task.input}

    outcome, started, reports = await run(quick, input={"a": "${ secrets.k }"}, secrets=["/a"])
    assert outcome == {"outcome": "completed", "output": {"key": "i:s", "input": {"a": "v"}}}
    assert (started, reports.sent) == (False, [])


async def test_permanent_is_not_retryable_and_other_errors_are() -> None:
    async def declined(task: Task) -> None:
        raise Permanent("card declined")

    def broken(task: Task) -> None:
        raise ConnectionError("provider down")

    assert (await run(declined))[0] == {"outcome": "failed", "error": {"message": "card declined", "retryable": False}}
    assert (await run(broken))[0] == {"outcome": "failed", "error": {"message": "provider down", "retryable": True}}


async def test_a_sync_function_runs_in_a_thread() -> None:
    def blocking(task: Task) -> str:
        time.sleep(0.01)
        return "done"

    assert (await run(blocking))[0] == {"outcome": "completed", "output": "done"}


async def test_a_slow_function_reports_its_start_then_heartbeats_on_a_timer() -> None:
    async def slow(task: Task) -> None:
        await task.heartbeat(progress=30)
        await asyncio.sleep(0.5)

    outcome, started, reports = await run(slow, heartbeat_timeout_ms=150)
    assert outcome == {"outcome": "completed", "output": None}
    assert started
    assert reports.sent[:2] == [("started", None), ("heartbeat", 30)]
    assert len(reports.sent) >= 4  # timer beats carry the last progress
    assert all(progress == 30 for kind, progress in reports.sent[1:])


async def test_a_hung_function_is_cut_at_the_deadline() -> None:
    async def hung(task: Task) -> None:
        await asyncio.Event().wait()

    deadline = (datetime.now(timezone.utc) + timedelta(milliseconds=300)).isoformat()
    outcome, _, _ = await run(hung, deadline=deadline)
    assert outcome["outcome"] == "failed"
    assert outcome["error"]["retryable"] is True
    assert "past its deadline" in outcome["error"]["message"]


async def test_a_missing_secret_fails_for_good_without_running() -> None:
    ran = []

    async def never(task: Task) -> None:
        ran.append(task)

    outcome, _, _ = await run(never, input="${ secrets.nope }", secrets=[""])
    assert outcome == {"outcome": "failed", "error": {"message": "secret `nope` is not set in this worker",
                                                      "retryable": False}}
    assert ran == []


async def test_an_output_that_is_not_json_fails_for_good() -> None:
    async def odd(task: Task) -> object:
        return {"set": {1, 2}}

    outcome, _, _ = await run(odd)
    assert outcome["outcome"] == "failed" and outcome["error"]["retryable"] is False
