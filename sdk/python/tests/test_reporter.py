import asyncio
from typing import Any

from distorch._reporter import Reporter


async def test_results_ready_while_a_publish_waits_go_out_together() -> None:
    sent: list[list[Any]] = []
    release = asyncio.Event()

    async def send(results: list[dict[str, Any]]) -> None:
        sent.append([result["n"] for result in results])
        if len(sent) == 1:
            await release.wait()

    reporter = Reporter(send)
    first = asyncio.create_task(reporter.publish({"n": 1}))
    await asyncio.sleep(0)
    others = [asyncio.create_task(reporter.publish({"n": n})) for n in (2, 3, 4)]
    await asyncio.sleep(0)
    release.set()
    await asyncio.gather(first, *others)
    assert sent == [[1], [2, 3, 4]]


async def test_a_failed_publish_fails_each_of_its_results() -> None:
    async def send(results: list[dict[str, Any]]) -> None:
        raise ConnectionError("gone")

    reporter = Reporter(send)
    outcomes = await asyncio.gather(reporter.publish({}), reporter.publish({}), return_exceptions=True)
    assert all(isinstance(outcome, ConnectionError) for outcome in outcomes)
