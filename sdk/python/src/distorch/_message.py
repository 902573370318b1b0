"""The wire form of docs/worker-protocol.md: task messages in, results out."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Optional

Kind = Literal["forward", "compensation"]

# Copied verbatim from a task into each of its results (protocol, section 3).
ECHOED = ("task_id", "instance_id", "step", "attempt", "kind")


class UnreadableTask(ValueError):
    """A task message that is not the protocol's JSON: it is dead-lettered."""


@dataclass(frozen=True)
class TaskMessage:
    """A task as it came off the queue (or out of the long poll)."""

    task_id: str
    instance_id: str
    workflow: str
    step: str
    attempt: int
    kind: Kind
    queue: str
    input: Any
    idempotency_key: str
    deadline: Optional[datetime]
    priority: int
    heartbeat_timeout: Optional[float]
    traceparent: Optional[str]
    secrets: tuple[str, ...] = ()
    """JSON Pointers to the strings of `input` that hold `${ secrets.NAME }`
    references the definition wrote: only those are resolved."""

    @staticmethod
    def parse(body: bytes | str | dict[str, Any]) -> TaskMessage:
        try:
            fields = body if isinstance(body, dict) else json.loads(body)
        except (ValueError, UnicodeDecodeError) as error:
            raise UnreadableTask(f"not JSON: {error}") from None
        if not isinstance(fields, dict):
            raise UnreadableTask("not a JSON object")
        text = ("task_id", "instance_id", "workflow", "step", "queue", "idempotency_key")
        missing = [name for name in (*text, "attempt", "kind") if name not in fields]
        if missing:
            raise UnreadableTask(f"missing {', '.join(missing)}")
        wrong = [name for name in text if not isinstance(fields[name], str)]
        attempt = fields["attempt"]
        if not isinstance(attempt, int) or isinstance(attempt, bool) or attempt < 1:
            wrong.append("attempt")
        if fields["kind"] not in ("forward", "compensation"):
            wrong.append("kind")
        if wrong:
            raise UnreadableTask(f"malformed {', '.join(wrong)}")
        timeout_ms = fields.get("heartbeat_timeout_ms")
        return TaskMessage(
            task_id=fields["task_id"],
            instance_id=fields["instance_id"],
            workflow=fields["workflow"],
            step=fields["step"],
            attempt=attempt,
            kind=fields["kind"],
            queue=fields["queue"],
            input=fields.get("input", {}),
            idempotency_key=fields["idempotency_key"],
            deadline=_instant(fields.get("deadline")),
            priority=fields.get("priority", 0) if isinstance(fields.get("priority"), int) else 0,
            heartbeat_timeout=timeout_ms / 1000 if isinstance(timeout_ms, (int, float)) else None,
            traceparent=fields.get("traceparent") if isinstance(fields.get("traceparent"), str) else None,
            secrets=_pointers(fields.get("secrets")),
        )

    def result(self, outcome: Outcome) -> dict[str, Any]:
        """A result of this task: the echoed fields and the outcome beside them."""
        echoed: dict[str, Any] = {
            "task_id": self.task_id,
            "instance_id": self.instance_id,
            "step": self.step,
            "attempt": self.attempt,
            "kind": self.kind,
        }
        return echoed | outcome


def _instant(text: object) -> Optional[datetime]:
    if not isinstance(text, str):
        return None
    try:
        instant = datetime.fromisoformat(text)
    except ValueError:
        raise UnreadableTask(f"deadline `{text}` is not RFC 3339") from None
    if instant.tzinfo is None:
        raise UnreadableTask(f"deadline `{text}` has no time zone")
    return instant


Outcome = dict[str, Any]


def completed(output: Any) -> Outcome:
    return {"outcome": "completed", "output": output}


def failed(message: str, retryable: bool) -> Outcome:
    return {"outcome": "failed", "error": {"message": message, "retryable": retryable}}


def started(worker: str) -> Outcome:
    return {"outcome": "started", "worker": worker}


def heartbeat(progress: Optional[int]) -> Outcome:
    beat: Outcome = {"outcome": "heartbeat"}
    if progress is not None:
        beat["progress"] = progress
    return beat


def _pointers(value: Any) -> tuple[str, ...]:
    """The task's `secrets`: JSON Pointers; anything else names none."""
    if not isinstance(value, list):
        return ()
    return tuple(item for item in value if isinstance(item, str))
