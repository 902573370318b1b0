"""`Worker`: functions registered by queue, served over AMQP or HTTP long-poll
until SIGTERM (or SIGINT), then drained."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
from typing import Callable, Optional, TypeVar, Union

from ._amqp import AmqpTransport
from ._execute import Function, Handler
from ._http import HttpTransport
from ._message import Kind
from ._runtime import Runtime
from ._secrets import Secrets, lookup_of

log = logging.getLogger("distorch.worker")

F = TypeVar("F", bound=Function)


class Worker:
    """A worker serving one or more task queues. It announces itself to the
    engine (listed at `GET /api/v1/workers`) and drains when an operator
    asks (`POST /api/v1/workers/{id}/drain`), as on SIGTERM.

    Give `amqp_url` (RabbitMQ, the fast path) or `http_url` and `token` (a
    node's long poll, for a worker that speaks HTTP only).

    - `concurrency`: tasks run at once (also the size of the thread pool
      that runs sync functions). Default 16.
    - `prefetch`: over AMQP, the tasks the broker hands each queue's consumer
      ahead (default: `concurrency`; a prefetched task's deadline runs while
      it waits); over HTTP, the polls kept open per queue (default 1; a
      poll starts when a slot is free, and the task it brings takes one).
    - `secrets`: where `${ secrets.NAME }` references are resolved: a mapping,
      a function of the name, or (default) the environment variable
      `DISTORCH_SECRET_<NAME in upper case>`.
    - `drain_timeout`: on SIGTERM, how long to wait for the running tasks
      (default: until they end; each ends by its deadline, if it has one).
    """

    def __init__(
        self,
        *,
        amqp_url: Optional[str] = None,
        http_url: Optional[str] = None,
        token: Optional[str] = None,
        name: Optional[str] = None,
        concurrency: int = 16,
        prefetch: Optional[int] = None,
        secrets: Secrets = None,
        drain_timeout: Optional[float] = None,
    ) -> None:
        if (amqp_url is None) == (http_url is None):
            raise ValueError("give either amqp_url or http_url (with token)")
        if concurrency < 1:
            raise ValueError("concurrency is at least 1")
        self.amqp_url = amqp_url
        self.http_url = http_url
        self.token = token
        self.name = name or f"python@{socket.gethostname()}:{os.getpid()}"
        self.concurrency = concurrency
        self.prefetch = prefetch if prefetch is not None else (concurrency if amqp_url else 1)
        self._lookup = lookup_of(secrets)
        self.drain_timeout = drain_timeout
        self._handlers: dict[tuple[str, Kind], Handler] = {}
        self._stop: Optional[Callable[[], None]] = None

    def task(self, queue: str) -> Callable[[F], F]:
        """Registers the function that runs the steps of `queue`."""
        return self._register(queue, "forward")

    def compensation(self, queue: str) -> Callable[[F], F]:
        """Registers the function that undoes the steps of `queue`."""
        return self._register(queue, "compensation")

    def _register(self, queue: str, kind: Kind) -> Callable[[F], F]:
        if (queue, kind) in self._handlers:
            raise ValueError(f"queue `{queue}` already has a {kind} function")

        def register(function: F) -> F:
            self._handlers[(queue, kind)] = Handler(function)
            return function

        return register

    def run(self) -> None:
        """Serves until SIGTERM or SIGINT, then drains: takes no new task,
        finishes and reports the running ones, and returns."""
        if not logging.getLogger().handlers:
            logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
        asyncio.run(self.serve(signals=True))

    async def serve(self, *, signals: bool = False) -> None:
        """`run` inside a running event loop; `stop()` (or a signal, with
        `signals`) begins the drain."""
        if not self._handlers:
            raise ValueError("no function registered: use @worker.task(queue)")
        runtime = Runtime(self.name, dict(self._handlers), self._lookup, self.concurrency, self.prefetch)
        loop = asyncio.get_running_loop()
        self._stop = lambda: _ignore(loop.call_soon_threadsafe(_drain, runtime))
        if signals:
            for number in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(number, _drain, runtime)
        transport: Union[AmqpTransport, HttpTransport]
        if self.amqp_url is not None:
            transport = AmqpTransport(self.amqp_url, runtime)
        else:
            assert self.http_url is not None
            transport = HttpTransport(self.http_url, self.token, runtime)
        serving = asyncio.create_task(transport.run())
        try:
            if self.drain_timeout is None:
                await serving
            else:
                await self._serve_then_drain_within(serving, runtime, self.drain_timeout)
        finally:
            if signals:
                for number in (signal.SIGTERM, signal.SIGINT):
                    loop.remove_signal_handler(number)
            runtime.threads.shutdown(wait=False, cancel_futures=True)
            self._stop = None
        log.info("drained; stopped")

    @staticmethod
    async def _serve_then_drain_within(serving: asyncio.Task[None], runtime: Runtime, timeout: float) -> None:
        stopping = asyncio.ensure_future(runtime.draining.wait())
        await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        try:
            await asyncio.wait_for(asyncio.shield(serving), timeout=timeout)
        except asyncio.TimeoutError:
            log.warning("the drain took over %ss; unreported tasks go back to their queues", timeout)
            serving.cancel()

    def stop(self) -> None:
        """Begins the drain of a serving worker (from any thread)."""
        if self._stop is not None:
            self._stop()


def _drain(runtime: Runtime) -> None:
    runtime.drain()


def _ignore(_handle: object) -> None:
    return None
