from typing import Any

from distorch._execute import Handler
from distorch._presence import is_drain, presence
from distorch._runtime import Runtime


async def noop(task: Any) -> None:
    return None


async def test_a_presence_message_carries_the_whole_picture() -> None:
    runtime = Runtime("payments-1", {("payments", "forward"): Handler(noop)}, lambda name: None, 4, 4)
    runtime.begin("t:charge:forward:1")
    busy = presence(runtime, "heartbeat")
    assert busy["type"] == "heartbeat"
    assert busy["worker_id"] == runtime.worker_id
    assert busy["queues"] == ["payments"]
    assert busy["capacity"] == 4
    assert busy["in_flight"] == ["t:charge:forward:1"]
    assert busy["draining"] is False
    runtime.end("t:charge:forward:1", {"outcome": "failed", "error": {"message": "no", "retryable": False}})
    runtime.drain()
    goodbye = presence(runtime, "goodbye")
    assert goodbye["in_flight"] == []
    assert (goodbye["completed"], goodbye["failed"]) == (0, 1)
    assert goodbye["draining"] is True


def test_only_a_drain_signal_drains() -> None:
    assert is_drain(b'{"type": "drain"}')
    assert not is_drain(b'{"type": "pause"}')
    assert not is_drain(b"not json")
