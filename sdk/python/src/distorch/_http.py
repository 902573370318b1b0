"""The HTTP transport: long-polls `GET /api/v1/tasks/poll` for tasks and
reports over `POST /api/v1/tasks/{task_id}/heartbeat|complete|fail`
(docs/api.md, "Workers over HTTP"). The node records a task's start when
it hands it out, and the task has left its queue then: a report is retried
until the node answers it, 200 (recorded) or 409 (changed nothing)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Optional
from urllib.parse import quote

import aiohttp

from ._execute import execute
from ._message import Outcome, TaskMessage, UnreadableTask
from ._runtime import Runtime

log = logging.getLogger("distorch.worker")

# How long a poll waits for a task. A drain waits for the open polls (a
# poll cut off could lose the task it was being handed), so keep it short.
POLL_WAIT_SECONDS = 10
# A report is retried for this long, then given up (the step times out).
REPORT_PATIENCE_SECONDS = 300


class HttpTransport:
    reports_start = False

    def __init__(self, url: str, token: Optional[str], runtime: Runtime) -> None:
        self._url = url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._runtime = runtime
        self._session: Optional[aiohttp.ClientSession] = None

    async def run(self) -> None:
        """Polls each queue (`prefetch` polls open per queue) until the
        runtime drains, then returns once the running tasks are reported."""
        timeout = aiohttp.ClientTimeout(total=POLL_WAIT_SECONDS + 30)
        async with aiohttp.ClientSession(headers=self._headers, timeout=timeout) as session:
            self._session = session
            log.info("polling %s for %s as %s", self._url, ", ".join(self._runtime.queues),
                     self._runtime.name)
            pollers = [
                asyncio.create_task(self._poll(queue))
                for queue in self._runtime.queues
                for _ in range(max(1, self._runtime.prefetch))
            ]
            await asyncio.gather(*pollers)
            await self._runtime.idle()

    async def _poll(self, queue: str) -> None:
        """A poll waits for a free slot, not holding one while it waits for a
        task: a task it gets may wait for a slot (as a prefetched one)."""
        retry_in = 0.5
        while await self._runtime.vacancy():
            try:
                task = await self._take(queue)
                retry_in = 0.5
            except (aiohttp.ClientError, asyncio.TimeoutError, PollRefused) as error:
                log.warning("polling %s failed (%s); again in %.1fs", queue, error, retry_in)
                await asyncio.sleep(retry_in)
                retry_in = min(retry_in * 2, 10.0)
                continue
            if task is not None:
                self._runtime.spawn(self._work(task))

    async def _take(self, queue: str) -> Optional[TaskMessage]:
        assert self._session is not None
        url = f"{self._url}/api/v1/tasks/poll"
        params = {
            "queue": queue,
            "wait": str(POLL_WAIT_SECONDS),
            "worker_id": self._runtime.worker_id,
            "name": self._runtime.name,
        }
        async with self._session.get(url, params=params) as response:
            if response.status == 204:
                if response.headers.get("DisTorch-Worker-Draining") == "true":
                    log.info("asked to drain by the engine")
                    self._runtime.drain()
                return None
            if response.status != 200:
                raise PollRefused(f"HTTP {response.status}: {(await response.text())[:300]}")
            body = await response.read()
        try:
            return TaskMessage.parse(body)
        except UnreadableTask as error:  # it left the queue: the step times out
            log.error("the node handed out an unreadable task (%s): %r", error, body[:200])
            return None

    async def _work(self, task: TaskMessage) -> None:
        # Handed out, it is this worker's: it runs even if a drain began.
        async with self._runtime.slots_ignoring_drain():
            self._runtime.begin(task.task_id)
            finished = await execute(task, self._runtime.handler(task), self,
                                     self._runtime.lookup, self._runtime.threads)
            self._runtime.end(task.task_id, finished.outcome)
        self._runtime.log_outcome(task, finished.outcome)
        await self._report_final(task, finished.outcome)

    async def _report_final(self, task: TaskMessage, outcome: Outcome) -> None:
        if outcome["outcome"] == "completed":
            path, body = "complete", {"output": outcome["output"]}
        else:
            path, body = "fail", dict(outcome["error"])
        loop = asyncio.get_running_loop()
        give_up = loop.time() + REPORT_PATIENCE_SECONDS
        retry_in = 0.2
        while True:
            try:
                status = await self._post(task, path, body)
                if status in (200, 409):
                    return
                if status < 500 and status != 429:
                    log.error("%s: the node refused the result (HTTP %d)", task.task_id, status)
                    return
                problem = f"HTTP {status}"
            except (aiohttp.ClientError, asyncio.TimeoutError) as error:
                problem = str(error) or type(error).__name__
            if loop.time() > give_up:
                log.error("%s: gave up reporting the result (%s)", task.task_id, problem)
                return
            log.warning("%s: reporting the result failed (%s); again in %.1fs",
                        task.task_id, problem, retry_in)
            await asyncio.sleep(retry_in)
            retry_in = min(retry_in * 2, 5.0)

    async def started(self, task: TaskMessage) -> None:
        return None  # the poll recorded it

    async def heartbeat(self, task: TaskMessage, progress: Optional[int]) -> None:
        body = {} if progress is None else {"progress": progress}
        status = await self._post(task, "heartbeat", body)
        if status not in (200, 409):
            raise PollRefused(f"HTTP {status}")

    async def _post(self, task: TaskMessage, path: str, body: dict[str, Any]) -> int:
        assert self._session is not None
        url = f"{self._url}/api/v1/tasks/{quote(task.task_id, safe=':')}/{path}"
        async with self._session.post(url, json=body) as response:
            await response.read()
            return response.status


class PollRefused(Exception):
    """The node answered a poll or a heartbeat with an error."""
