"""With OpenTelemetry's SDK set up, a task runs in a span that continues its
`traceparent`, and `task.traceparent` is that span's."""

from concurrent.futures import ThreadPoolExecutor
from typing import Optional

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from distorch import Task
from distorch._execute import Handler, execute
from distorch._message import TaskMessage
from distorch._secrets import lookup_of

PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


class Silent:
    reports_start = True

    async def started(self, task: TaskMessage) -> None: ...

    async def heartbeat(self, task: TaskMessage, progress: Optional[int]) -> None: ...


async def test_a_task_runs_in_a_child_span_of_its_traceparent() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    seen: list[Optional[str]] = []

    def function(task: Task) -> None:  # sync: the span crosses into the thread too
        seen.append(task.traceparent)

    message = TaskMessage.parse({
        "task_id": "i:charge:forward:1", "instance_id": "i", "workflow": "w", "step": "charge", "attempt": 1,
        "kind": "forward", "queue": "payments", "input": {}, "idempotency_key": "i:charge", "traceparent": PARENT,
    })
    with ThreadPoolExecutor(1) as threads:
        await execute(message, Handler(function), Silent(), lookup_of({}), threads)

    [span] = exporter.get_finished_spans()
    assert span.name == "task charge"
    assert span.parent is not None and format(span.parent.span_id, "016x") == "00f067aa0ba902b7"
    assert format(span.context.trace_id, "032x") == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert seen == [f"00-4bf92f3577b34da6a3ce929d0e0e4736-{span.context.span_id:016x}-01"]
