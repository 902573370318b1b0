"""What a task function gets (`Task`) and may raise (`Permanent`)."""

from __future__ import annotations

import asyncio
import contextvars
import logging
from datetime import datetime
from typing import Any, Optional, Protocol

from . import _tracing
from ._message import Kind, TaskMessage

logger = logging.getLogger("distorch.task")


class Permanent(Exception):
    """The same input would fail again (a declined card, a bad request): the
    step fails for good, whatever attempts remain (`retryable: false`). Any
    other exception is retryable."""


class Beats(Protocol):
    """Where a task's explicit heartbeats go (the attempt that runs it)."""

    async def beat(self, progress: Optional[int]) -> None: ...


class Task:
    """One attempt of a step (or of its compensation), as its function sees it.

    `input` has its `${ secrets.NAME }` references resolved. Use
    `idempotency_key` to make the effect safe to repeat: a task can be
    delivered more than once (the protocol is at least once)."""

    def __init__(
        self,
        message: TaskMessage,
        input: Any,
        beats: Beats,
        loop: asyncio.AbstractEventLoop,
        context: contextvars.Context,
    ) -> None:
        self._message = message
        self.input: Any = input
        self._beats = beats
        self._loop = loop
        self._context = context
        self._cut = False

    @property
    def task_id(self) -> str:
        return self._message.task_id

    @property
    def instance_id(self) -> str:
        return self._message.instance_id

    @property
    def workflow(self) -> str:
        return self._message.workflow

    @property
    def step(self) -> str:
        return self._message.step

    @property
    def queue(self) -> str:
        return self._message.queue

    @property
    def attempt(self) -> int:
        return self._message.attempt

    @property
    def kind(self) -> Kind:
        """`forward`, or `compensation`: undo what the step did."""
        return self._message.kind

    @property
    def idempotency_key(self) -> str:
        """The same for every attempt and redelivery of the step."""
        return self._message.idempotency_key

    @property
    def deadline(self) -> Optional[datetime]:
        """When the engine gives up on this attempt; the function is cut then."""
        return self._message.deadline

    @property
    def traceparent(self) -> Optional[str]:
        """What to send on as the W3C `traceparent` of calls this task makes:
        its own span's when OpenTelemetry is installed, else the task's."""
        return _tracing.current_traceparent(self._context) or self._message.traceparent

    @property
    def cut(self) -> bool:
        """Whether the deadline passed and the task was cut: a sync function
        (whose thread cannot be stopped) should check this and return."""
        return self._cut

    async def heartbeat(self, progress: Optional[int] = None, message: Optional[str] = None) -> None:
        """Reports that the task is alive, with its progress (0 to 100). The
        worker also heartbeats on a timer, so call this for progress only.
        `message` goes to this worker's log (the protocol carries none)."""
        if progress is not None and not (isinstance(progress, int) and 0 <= progress <= 100):
            raise ValueError(f"progress is an integer from 0 to 100, not {progress!r}")
        if message is not None:
            self.log("%s", message)
        await self._beats.beat(progress)

    def heartbeat_sync(self, progress: Optional[int] = None, message: Optional[str] = None) -> None:
        """`heartbeat` for a sync function, which runs in a thread."""
        asyncio.run_coroutine_threadsafe(self.heartbeat(progress, message), self._loop).result()

    def log(self, message: str, *args: object) -> None:
        """A log line of this task (`logging`, logger `distorch.task`),
        prefixed with `[workflow step#attempt]`."""
        prefix = f"[{self.workflow} {self.step}#{self.attempt}] "
        logger.info(prefix + message, *args, extra={"task_id": self.task_id})

    def _mark_cut(self) -> None:
        self._cut = True
