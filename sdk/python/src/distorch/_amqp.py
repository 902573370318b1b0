"""The AMQP transport (protocol sections 1-4, 8): consume the task queues
with manual acks, publish results with publisher confirms, ack a task only
once its result is confirmed, and reconnect after the broker goes away.

A task redelivered after a reconnect is not run again by this worker: if it
is still running, the new delivery is acked with its result; if its result
was already confirmed, the delivery is acked at once."""

from __future__ import annotations

import asyncio
import json
import logging
from collections import OrderedDict
from typing import Any, Optional

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractQueue
from pamqp.commands import Basic

from ._execute import execute
from ._message import TaskMessage, UnreadableTask, heartbeat, started
from ._presence import WORKERS, WORKERS_ARGUMENTS, beat, control_queue, is_drain, presence
from ._reporter import Reporter
from ._runtime import Runtime

log = logging.getLogger("distorch.worker")

RESULTS = "distorch.results"
# Task ids whose results were confirmed, kept to ack their redeliveries.
REMEMBERED = 10_000


class AmqpTransport:
    reports_start = True

    def __init__(self, url: str, runtime: Runtime) -> None:
        self._url = url
        self._runtime = runtime
        self._channel: Optional[AbstractChannel] = None
        self._connected = asyncio.Event()
        self._running: dict[str, list[AbstractIncomingMessage]] = {}
        self._confirmed: OrderedDict[str, None] = OrderedDict()
        self._reporter = Reporter(self._send)

    async def run(self) -> None:
        """Works until the runtime drains, then takes no new task, and
        returns once the running ones are reported and acked."""
        stop = self._runtime.draining
        retry_in = 0.5
        while not (stop.is_set() and not self._runtime.busy):
            try:
                connection = await aio_pika.connect(
                    self._url, client_properties={"connection_name": self._runtime.name}
                )
            except Exception as error:
                log.warning("connecting to RabbitMQ failed (%s); again in %.1fs", error, retry_in)
                if stop.is_set():
                    await asyncio.sleep(retry_in)
                else:
                    await _wait(stop, retry_in)
                retry_in = min(retry_in * 2, 10.0)
                continue
            retry_in = 0.5
            try:
                await self._session(connection, stop)
            except Exception as error:
                log.warning("the connection to RabbitMQ failed (%s); reconnecting", error)
            finally:
                self._channel = None
                self._connected.clear()
                await _close(connection)

    async def _session(self, connection: aio_pika.abc.AbstractConnection, stop: asyncio.Event) -> None:
        lost: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

        def on_close(*_: Any) -> None:
            if not lost.done():
                lost.set_result(True)

        connection.close_callbacks.add(on_close)
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        channel.close_callbacks.add(on_close)
        await channel.set_qos(prefetch_count=self._runtime.prefetch)
        consumers: list[tuple[AbstractQueue, str]] = []
        if not stop.is_set():
            for queue in self._runtime.queues:
                declared = await _declare(channel, queue)
                consumers.append((declared, await declared.consume(self._on_message)))
            log.info("working on %s as %s", ", ".join(self._runtime.queues), self._runtime.name)
        self._channel = channel
        self._connected.set()
        await self._listen_for_signals(channel)
        await channel.declare_queue(WORKERS, durable=True, arguments=WORKERS_ARGUMENTS)
        await self._announce(presence(self._runtime, "hello"))
        beating = asyncio.ensure_future(beat(self._runtime, self._announce))
        stopping: asyncio.Future[bool] = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait([lost, stopping], return_when=asyncio.FIRST_COMPLETED)
            if lost.done():
                log.warning("lost the connection to RabbitMQ; reconnecting (unacked tasks come back)")
                return
            for declared, tag in consumers:
                await declared.cancel(tag)
            log.info("draining: %d task(s) running, taking no new one", len(self._running))
            idle = asyncio.ensure_future(self._idle())
            await asyncio.wait([lost, idle], return_when=asyncio.FIRST_COMPLETED)
            idle.cancel()
            if not lost.done():
                await self._announce(presence(self._runtime, "goodbye"))
        finally:
            stopping.cancel()
            beating.cancel()

    async def _listen_for_signals(self, channel: AbstractChannel) -> None:
        """The control queue: a `drain` signal drains the worker."""
        control = await channel.declare_queue(
            control_queue(self._runtime.worker_id), exclusive=True, auto_delete=True
        )

        async def on_signal(message: AbstractIncomingMessage) -> None:
            if is_drain(message.body):
                log.info("asked to drain by the engine")
                self._runtime.drain()

        await control.consume(on_signal, no_ack=True)

    async def _announce(self, message: dict[str, Any]) -> None:
        """Sends a presence message; best effort (logged when it fails)."""
        channel = self._channel
        if channel is None or channel.is_closed:
            return
        try:
            await channel.default_exchange.publish(
                aio_pika.Message(json.dumps(message).encode(), content_type="application/json"),
                routing_key=WORKERS,
                timeout=10,
            )
        except Exception as error:  # noqa: BLE001 - presence is best effort
            log.debug("announcing this worker failed: %s", error)

    async def _idle(self) -> bool:
        await self._runtime.idle()
        return True

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        # Out of the channel's own task, which ends when the channel closes.
        self._runtime.spawn(self._take(message))

    async def _take(self, message: AbstractIncomingMessage) -> None:
        try:
            task = TaskMessage.parse(message.body)
        except UnreadableTask as error:
            log.error("an unreadable task (%s) is dead-lettered: %r", error, message.body[:200])
            await _settle(message.reject(requeue=False))
            return
        if task.task_id in self._confirmed:
            await _settle(message.ack())
            return
        if task.task_id in self._running:
            self._running[task.task_id].append(message)
            return
        if self._runtime.draining.is_set():
            await _settle(message.nack(requeue=True))
            return
        self._running[task.task_id] = [message]
        async with self._runtime.slot() as granted:
            if not granted:  # a drain began while it waited: let another worker take it
                for waiting in self._running.pop(task.task_id):
                    await _settle(waiting.nack(requeue=True))
                return
            await self._work(task)

    async def _work(self, task: TaskMessage) -> None:
        self._runtime.begin(task.task_id)
        finished = await execute(task, self._runtime.handler(task), self, self._runtime.lookup,
                                 self._runtime.threads)
        self._runtime.end(task.task_id, finished.outcome)
        result = task.result(finished.outcome)
        if not finished.started:
            result["started_by"] = self._runtime.name
        self._runtime.log_outcome(task, finished.outcome)
        retry_in = 0.2
        while True:
            try:
                await self._reporter.publish(result)
                break
            except Exception as error:  # confirmed, or published again on the next connection
                log.warning("%s: publishing the result failed (%s); again in %.1fs",
                            task.task_id, error, retry_in)
                await asyncio.sleep(retry_in)
                retry_in = min(retry_in * 2, 5.0)
        self._confirmed[task.task_id] = None
        while len(self._confirmed) > REMEMBERED:
            self._confirmed.popitem(last=False)
        for delivery in self._running.pop(task.task_id, []):
            # A delivery of a lost channel cannot be acked: it is back in its queue.
            await _settle(delivery.ack())

    async def started(self, task: TaskMessage) -> None:
        await self._reporter.publish(task.result(started(self._runtime.name)))

    async def heartbeat(self, task: TaskMessage, progress: Optional[int]) -> None:
        await self._reporter.publish(task.result(heartbeat(progress)))

    async def _send(self, results: list[dict[str, Any]]) -> None:
        channel = self._channel
        if channel is None or channel.is_closed:
            await asyncio.wait_for(self._connected.wait(), timeout=5)
            channel = self._channel
        if channel is None:
            raise ConnectionError("no connection to RabbitMQ")
        one = len(results) == 1
        message = aio_pika.Message(
            json.dumps(results[0] if one else results).encode(),
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            content_type="application/json",
            message_id=results[0]["task_id"] if one else None,
        )
        confirmation = await channel.default_exchange.publish(
            message, routing_key=RESULTS, mandatory=True, timeout=30
        )
        if not isinstance(confirmation, Basic.Ack):
            raise ConnectionError(f"the broker did not store the result ({type(confirmation).__name__})")


async def _declare(channel: AbstractChannel, queue: str) -> AbstractQueue:
    """The queue and its dead-letter queue, with exactly the engine's
    arguments (protocol, section 1), so a worker may start first."""
    tasks = await channel.declare_exchange("distorch.tasks", aio_pika.ExchangeType.DIRECT, durable=True)
    dlx = await channel.declare_exchange("distorch.dlx", aio_pika.ExchangeType.DIRECT, durable=True)
    declared = await channel.declare_queue(
        f"distorch.task.{queue}",
        durable=True,
        arguments={
            "x-queue-type": "quorum",
            "x-dead-letter-exchange": "distorch.dlx",
            "x-dead-letter-routing-key": queue,
        },
    )
    await declared.bind(tasks, routing_key=queue)
    dead = await channel.declare_queue(
        f"distorch.dlq.{queue}", durable=True, arguments={"x-queue-type": "quorum"}
    )
    await dead.bind(dlx, routing_key=queue)
    return declared


async def _settle(settling: Any) -> None:
    try:
        await settling
    except Exception as error:  # its channel is gone: the broker requeued it
        log.debug("settling a delivery failed: %s", error)


async def _close(connection: aio_pika.abc.AbstractConnection) -> None:
    try:
        await connection.close()
    except Exception as error:
        log.debug("closing the connection failed: %s", error)


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except asyncio.TimeoutError:
        pass
