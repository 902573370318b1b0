from datetime import datetime, timezone

import pytest

from distorch._message import TaskMessage, UnreadableTask, completed

TASK = {
    "task_id": "i:charge:forward:2", "instance_id": "i", "workflow": "w", "step": "charge",
    "attempt": 2, "kind": "forward", "queue": "payments", "input": {"amount": 3},
    "idempotency_key": "i:charge", "deadline": "2026-11-03T10:15:30.250123456Z", "priority": 4,
    "heartbeat_timeout_ms": 1500, "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    "a_field_from_a_later_version": True,
}


def test_reads_a_task_and_echoes_its_fields_in_results() -> None:
    task = TaskMessage.parse(json_bytes(TASK))
    assert task.deadline == datetime(2026, 11, 3, 10, 15, 30, 250123, tzinfo=timezone.utc)
    assert task.heartbeat_timeout == 1.5
    assert task.result(completed({"ok": True})) == {
        "task_id": "i:charge:forward:2", "instance_id": "i", "step": "charge", "attempt": 2,
        "kind": "forward", "outcome": "completed", "output": {"ok": True},
    }


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"task_id": 7}'])
def test_refuses_what_is_not_a_task(body: bytes) -> None:
    with pytest.raises(UnreadableTask):
        TaskMessage.parse(body)


def test_refuses_a_bad_kind_or_attempt() -> None:
    with pytest.raises(UnreadableTask, match="attempt, kind"):
        TaskMessage.parse(json_bytes(TASK | {"kind": "sideways", "attempt": 0}))


def json_bytes(value: object) -> bytes:
    import json
    return json.dumps(value).encode()
