"""Results published with publisher confirms, together when several are
ready at once: a result that comes while no publish is under way goes out
at once; those that come while a publish waits for its confirm go out
together in the next message (a JSON array, protocol section 3), up to 64."""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable

# Results in one message at most (as DisTorch's own workers).
BATCH = 64

Send = Callable[[list[dict[str, Any]]], Awaitable[None]]


class Reporter:
    def __init__(self, send: Send) -> None:
        self._send = send
        self._waiting: list[tuple[dict[str, Any], asyncio.Future[None]]] = []
        self._publishing = False

    async def publish(self, result: dict[str, Any]) -> None:
        """Returns once the message carrying `result` is confirmed; raises
        what sending it raised."""
        confirmed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((result, confirmed))
        if not self._publishing:
            self._publishing = True
            asyncio.create_task(self._drain())
        await confirmed

    async def _drain(self) -> None:
        try:
            while self._waiting:
                batch = self._waiting[:BATCH]
                del self._waiting[:BATCH]
                try:
                    await self._send([result for result, _ in batch])
                except Exception as error:
                    for _, confirmed in batch:
                        if not confirmed.done():
                            confirmed.set_exception(error)
                else:
                    for _, confirmed in batch:
                        if not confirmed.done():
                            confirmed.set_result(None)
        finally:
            self._publishing = False
