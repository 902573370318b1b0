"""One attempt, run to its outcome: secrets resolved, the function called
(a coroutine on the loop, a sync function in the thread pool), `started`
reported when it takes a while, heartbeats on a timer, and the function cut
at the task's deadline."""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable, Optional, Protocol, Union

from . import _tracing
from ._message import Outcome, TaskMessage, completed, failed
from ._secrets import Lookup, MissingSecret, resolve
from ._task import Permanent, Task

log = logging.getLogger("distorch.worker")

Function = Callable[[Task], Union[Any, Awaitable[Any]]]

# How long a task runs before its `started` is reported (as the built-in
# workers do): a quick task is reported once, naming the worker in `started_by`.
START_REPORT_AFTER = 0.25


class Reports(Protocol):
    """How a transport reports on a running attempt."""

    # False when handing the task out already recorded its start (HTTP).
    reports_start: bool

    async def started(self, task: TaskMessage) -> None: ...

    async def heartbeat(self, task: TaskMessage, progress: Optional[int]) -> None: ...


@dataclass(frozen=True)
class Handler:
    function: Function

    @property
    def is_async(self) -> bool:
        return inspect.iscoroutinefunction(self.function)


@dataclass
class Finished:
    outcome: Outcome
    # Whether `started` went out: if not, the result names the worker.
    started: bool


class Attempt:
    """The reports of one running attempt: its start, once, and heartbeats."""

    def __init__(self, message: TaskMessage, reports: Reports) -> None:
        self.message = message
        self.reports = reports
        self.started = not reports.reports_start
        self.progress: Optional[int] = None

    async def ensure_started(self) -> None:
        if self.started:
            return
        self.started = True
        try:
            await self.reports.started(self.message)
        except Exception as error:  # the final result names the worker then
            self.started = False
            log.warning("%s: reporting the start failed: %s", self.message.task_id, error)

    async def beat(self, progress: Optional[int]) -> None:
        if progress is not None:
            self.progress = progress
        await self.ensure_started()
        try:
            await self.reports.heartbeat(self.message, self.progress)
        except Exception as error:  # the next one may go through
            log.warning("%s: a heartbeat failed: %s", self.message.task_id, error)

    async def beat_on_timer(self) -> None:
        timeout = self.message.heartbeat_timeout
        if timeout is None:
            return
        period = max(timeout / 3, 0.05)
        while True:
            await asyncio.sleep(period)
            await self.beat(None)


async def execute(
    message: TaskMessage,
    handler: Optional[Handler],
    reports: Reports,
    lookup: Lookup,
    threads: Executor,
) -> Finished:
    """Runs the attempt; never raises for the function's sake."""
    attempt = Attempt(message, reports)
    if handler is None:
        which = "compensation" if message.kind == "compensation" else "task"
        refused = f"this worker has no {which} function for queue `{message.queue}`"
        return Finished(failed(refused, False), attempt.started)
    left = _seconds_left(message)
    if left is not None and left <= 0:
        return Finished(failed("the deadline passed before the task started", True), attempt.started)
    try:
        task_input = resolve(message.input, message.secrets, lookup)
    except MissingSecret as error:
        return Finished(failed(str(error), False), attempt.started)
    loop = asyncio.get_running_loop()
    context, finish_span = _tracing.task_context(message)
    task = Task(message, task_input, attempt, loop, context)
    job = _start(handler, task, loop, threads, context)
    outcome = await _supervise(job, attempt, task, left)
    finish_span(_error_of(job))
    return Finished(outcome, attempt.started)


def _start(
    handler: Handler,
    task: Task,
    loop: asyncio.AbstractEventLoop,
    threads: Executor,
    context: Any,
) -> asyncio.Future[Any]:
    if handler.is_async:
        return loop.create_task(handler.function(task), context=context)  # type: ignore[arg-type]
    return asyncio.wrap_future(threads.submit(context.run, handler.function, task))


async def _supervise(
    job: asyncio.Future[Any], attempt: Attempt, task: Task, left: Optional[float]
) -> Outcome:
    beats: Optional[asyncio.Task[None]] = None
    try:
        if not attempt.started:
            wait = START_REPORT_AFTER if left is None else min(START_REPORT_AFTER, left)
            done, _ = await asyncio.wait({job}, timeout=wait)
            if not done:
                await attempt.ensure_started()
        if not job.done():
            beats = asyncio.create_task(attempt.beat_on_timer())
        left = _seconds_left(attempt.message)
        done, _ = await asyncio.wait({job}, timeout=None if left is None else max(left, 0))
        if not done:
            job.cancel()
            task._mark_cut()
            deadline = attempt.message.deadline
            when = deadline.isoformat() if deadline else "?"
            return failed(f"timed out: the task ran past its deadline ({when}) and was cut", True)
    finally:
        if beats is not None:
            beats.cancel()
    return _outcome(job)


def _outcome(job: asyncio.Future[Any]) -> Outcome:
    error = _error_of(job)
    if isinstance(error, Permanent):
        return failed(_message(error), False)
    if error is not None:
        return failed(_message(error), True)
    output = job.result()
    try:
        json.dumps(output)
    except (TypeError, ValueError) as problem:
        return failed(f"the output is not JSON: {problem}", False)
    return completed(output)


def _error_of(job: asyncio.Future[Any]) -> Optional[BaseException]:
    if not job.done():
        return None
    if job.cancelled():
        return asyncio.CancelledError("cut at the deadline")
    return job.exception()


def _message(error: BaseException) -> str:
    return str(error) or type(error).__name__


def _seconds_left(message: TaskMessage) -> Optional[float]:
    if message.deadline is None:
        return None
    return (message.deadline - datetime.now(timezone.utc)).total_seconds()
