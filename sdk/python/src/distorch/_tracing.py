"""OpenTelemetry, when it is installed: each task runs in a span of its own,
a child of the task's `traceparent` (the engine's span that scheduled it).
Without it, tasks run untraced and `Task.traceparent` is the task's own."""

from __future__ import annotations

import contextvars
from typing import Any, Callable, Optional

from ._message import TaskMessage

Finish = Callable[[Optional[BaseException]], None]

try:
    from opentelemetry import context as otel_context
    from opentelemetry import propagate, trace
    from opentelemetry.trace import SpanKind, Status, StatusCode

    ENABLED = True
except ImportError:  # the optional dependency is absent
    ENABLED = False


def task_context(task: TaskMessage) -> tuple[contextvars.Context, Finish]:
    """A context to run the task's function in (its span current there, when
    tracing), and what ends the span with the function's error, if any."""
    context = contextvars.copy_context()
    if not ENABLED:
        return context, _untraced
    return context, context.run(_enter_span, task)


def _untraced(_error: Optional[BaseException]) -> None:
    return None


def _enter_span(task: TaskMessage) -> Finish:
    carrier = {"traceparent": task.traceparent} if task.traceparent else {}
    parent = propagate.extract(carrier)
    span = trace.get_tracer("distorch").start_span(
        f"task {task.step}",
        context=parent,
        kind=SpanKind.CONSUMER,
        attributes={
            "distorch.queue": task.queue,
            "distorch.step": task.step,
            "distorch.instance_id": task.instance_id,
            "distorch.attempt": task.attempt,
            "distorch.kind": task.kind,
        },
    )
    otel_context.attach(trace.set_span_in_context(span, parent))

    def finish(error: Optional[BaseException]) -> None:
        if error is not None:
            span.record_exception(error)
            span.set_status(Status(StatusCode.ERROR, str(error)))
        span.end()

    return finish


def current_traceparent(context: contextvars.Context) -> Optional[str]:
    """The `traceparent` of the span current in `context`, if one records."""
    if not ENABLED:
        return None
    carrier: dict[str, Any] = {}
    try:
        context.run(propagate.inject, carrier)
    except RuntimeError:  # called from within the task: its context is the current one
        propagate.inject(carrier)
    value = carrier.get("traceparent")
    return value if isinstance(value, str) else None
