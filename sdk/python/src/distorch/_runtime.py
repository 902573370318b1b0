"""What the transports share: the functions by queue and kind, the
concurrency slots, the thread pool for sync functions, the tasks in flight
(to wait for on a drain) and the worker's log lines."""

from __future__ import annotations

import asyncio
import logging
import socket
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from typing import Any, AsyncIterator, Coroutine, Optional

from ._execute import Handler
from ._message import Kind, Outcome, TaskMessage
from ._secrets import Lookup

log = logging.getLogger("distorch.worker")


class Runtime:
    def __init__(
        self,
        name: str,
        handlers: dict[tuple[str, Kind], Handler],
        lookup: Lookup,
        concurrency: int,
        prefetch: int,
    ) -> None:
        self.name = name
        self.handlers = handlers
        self.queues = sorted({queue for queue, _ in handlers})
        self.lookup = lookup
        self.prefetch = prefetch
        self.concurrency = concurrency
        self.threads = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="distorch-task")
        self._slots = asyncio.Semaphore(concurrency)
        self._spawned: set[asyncio.Task[None]] = set()
        self.draining = asyncio.Event()
        # Presence (protocol section 12).
        self.worker_id = str(uuid.uuid4())
        self.host = socket.gethostname()
        self.version = _version()
        self.started_at = datetime.now(timezone.utc).isoformat()
        self.in_flight: set[str] = set()
        self.completed = 0
        self.failed = 0

    def drain(self) -> None:
        """Begins the drain: no new task from now on."""
        if not self.draining.is_set():
            log.info("stopping: finishing the running tasks, taking no new one")
            self.draining.set()

    def begin(self, task_id: str) -> None:
        """A task starts running (counted in `in_flight`)."""
        self.in_flight.add(task_id)

    def end(self, task_id: str, outcome: Outcome) -> None:
        """A task ended with `outcome` (counted as completed or failed)."""
        self.in_flight.discard(task_id)
        if outcome["outcome"] == "failed":
            self.failed += 1
        else:
            self.completed += 1

    @property
    def busy_with_tasks(self) -> bool:
        return bool(self.in_flight)

    def handler(self, task: TaskMessage) -> Optional[Handler]:
        return self.handlers.get((task.queue, task.kind))

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        job = asyncio.create_task(work)
        self._spawned.add(job)
        job.add_done_callback(self._spawned.discard)
        job.add_done_callback(_log_crash)

    async def idle(self) -> None:
        """Returns once nothing spawned is left."""
        while self._spawned:
            await asyncio.wait(set(self._spawned))

    @property
    def busy(self) -> bool:
        return bool(self._spawned)

    async def acquire(self) -> bool:
        """Takes one of the `concurrency` slots (True), or none once a drain began."""
        if self.draining.is_set():
            return False
        acquiring = asyncio.ensure_future(self._slots.acquire())
        draining = asyncio.ensure_future(self.draining.wait())
        await asyncio.wait({acquiring, draining}, return_when=asyncio.FIRST_COMPLETED)
        draining.cancel()
        acquiring.cancel()
        got = acquiring.done() and not acquiring.cancelled()
        if got and self.draining.is_set():
            self._slots.release()
            got = False
        return got

    def release(self) -> None:
        self._slots.release()

    async def vacancy(self) -> bool:
        """Waits until a slot is free, without taking it (True), or until a
        drain begins (False): a long poll asks for a task only then."""
        if await self.acquire():
            self.release()
            return True
        return False

    @asynccontextmanager
    async def slots_ignoring_drain(self) -> AsyncIterator[None]:
        """A slot even during a drain (for a task already taken off its queue)."""
        async with self._slots:
            yield

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[bool]:
        """`acquire`, released at the end of the block."""
        got = await self.acquire()
        try:
            yield got
        finally:
            if got:
                self.release()

    def log_outcome(self, task: TaskMessage, outcome: Outcome) -> None:
        if outcome["outcome"] == "failed":
            error = outcome["error"]
            log.info("%s: failed (%s) %s", task.task_id,
                     "retryable" if error["retryable"] else "permanent", error["message"])
        else:
            log.info("%s: %s", task.task_id, outcome["outcome"])


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("distorch")
    except Exception:  # noqa: BLE001 - not installed as a package
        return "unknown"


def _log_crash(job: asyncio.Task[None]) -> None:
    if not job.cancelled() and job.exception() is not None:
        log.error("a task of the worker crashed", exc_info=job.exception())
