"""Presence (protocol section 12): what the worker says of itself, hello,
heartbeats every 10 s and soon after it turns busy or idle or begins to
drain, goodbye; over AMQP on `distorch.workers`, the drain signal heard on
its control queue `distorch.worker.<id>`."""

from __future__ import annotations

import asyncio
import json
from typing import Any, Awaitable, Callable

from ._runtime import Runtime

WORKERS = "distorch.workers"
# The engine's arguments for the presence queue, so a worker may declare it first.
WORKERS_ARGUMENTS: dict[str, Any] = {"x-queue-type": "classic", "x-message-ttl": 60_000}
HEARTBEAT_SECONDS = 10.0
# How often the beat loop looks for a turn (busy, idle, draining).
LOOK_SECONDS = 1.0


def control_queue(worker_id: str) -> str:
    return f"distorch.worker.{worker_id}"


def presence(runtime: Runtime, kind: str) -> dict[str, Any]:
    """The presence message of `kind` (hello, heartbeat, goodbye)."""
    return {
        "type": kind,
        "worker_id": runtime.worker_id,
        "name": runtime.name,
        "host": runtime.host,
        "version": runtime.version,
        "queues": runtime.queues,
        "capacity": runtime.concurrency,
        "in_flight": sorted(runtime.in_flight),
        "completed": runtime.completed,
        "failed": runtime.failed,
        "draining": runtime.draining.is_set() or kind == "goodbye",
        "started_at": runtime.started_at,
    }


def is_drain(body: bytes) -> bool:
    """Whether a control message asks for a drain."""
    try:
        return bool(json.loads(body).get("type") == "drain")
    except (ValueError, AttributeError):
        return False


async def beat(runtime: Runtime, send: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
    """Heartbeats until cancelled: every HEARTBEAT_SECONDS, and within a
    second of a turn. A failed send is tried again at the next beat."""
    loop = asyncio.get_running_loop()
    last_sent = loop.time()
    last_state = (runtime.busy_with_tasks, runtime.draining.is_set())
    while True:
        await asyncio.sleep(LOOK_SECONDS)
        state = (runtime.busy_with_tasks, runtime.draining.is_set())
        if state != last_state or loop.time() - last_sent >= HEARTBEAT_SECONDS:
            try:
                await send(presence(runtime, "heartbeat"))
                last_sent, last_state = loop.time(), state
            except Exception:  # noqa: BLE001 - best effort; the tasks do not depend on it
                pass
