#!/usr/bin/env python3
"""A DisTorch worker in Python (pika), following docs/worker-protocol.md.

    AMQP_URL=amqp://guest:guest@127.0.0.1:5672/%2F python3 worker.py payments

For each task of `distorch.task.<queue>`: publish `started`, run `charge`,
publish `completed` or `failed` and wait for the broker's confirm, then ack.
"""
import json
import logging
import os
import socket
import sys
import time
from datetime import datetime, timezone

import pika
from pika.exceptions import AMQPError, ChannelClosedByBroker

QUEUE = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("DISTORCH_QUEUE", "payments")
AMQP_URL = os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
WORKER = f"python-{QUEUE}@{socket.gethostname()}:{os.getpid()}"
RESULTS = "distorch.results"  # the results exchange, and the routing key
ECHOED = ("task_id", "instance_id", "step", "attempt", "kind")  # copied into results
log = logging.getLogger("worker")


class Permanent(Exception):
    """The same input would fail again: reported with `retryable: false`."""


def charge(payload, task):
    """The business function. The charge is named after the idempotency key, so
    running the step again (a redelivery, a retry) gives the same charge.
    (An input with `${ secrets.NAME }` would be resolved first: protocol, section 7.)"""
    key = task["idempotency_key"]
    if task["kind"] == "compensation":  # undo: refund this step's charge
        return {"refunded": "ch-" + key.removesuffix(":compensate")}
    amount = payload.get("amount") if isinstance(payload, dict) else None
    if not isinstance(amount, (int, float)) or isinstance(amount, bool):
        raise Permanent(f"amount must be a number, not {amount!r}")
    if amount < 0:
        raise Permanent(f"amount must not be negative ({amount})")
    if payload.get("flaky") is True and task["attempt"] == 1:
        raise RuntimeError("the payment provider timed out (flaky on attempt 1)")
    return {"charge_id": f"ch-{key}", "amount": amount}


def report(channel, task, outcome, **fields):
    """Publishes a result. With confirms on, this returns once the broker has
    stored it, and raises NackError or UnroutableError if it did not."""
    result = {key: task[key] for key in ECHOED} | {"outcome": outcome, **fields}
    properties = pika.BasicProperties(
        delivery_mode=2, content_type="application/json", message_id=task["task_id"])
    channel.basic_publish(RESULTS, RESULTS, json.dumps(result), properties, mandatory=True)


def on_task(channel, method, _properties, body):
    try:
        task = json.loads(body)
        missing = [f for f in ECHOED + ("input", "idempotency_key") if f not in task]
        if missing:
            raise ValueError(f"no {missing}")
    except (ValueError, TypeError) as error:  # unreadable: dead-letter it
        log.error("unreadable task (%s): %r", error, body[:200])
        return channel.basic_reject(method.delivery_tag, requeue=False)
    deadline = task.get("deadline")  # RFC 3339 in UTC: compares as text
    if deadline and deadline[:19] < datetime.now(timezone.utc).isoformat()[:19]:
        log.warning("%s: past its deadline, the engine timed it out", task["task_id"])
        return channel.basic_ack(method.delivery_tag)
    report(channel, task, "started", worker=WORKER)
    try:
        result = {"outcome": "completed", "output": charge(task["input"], task)}
    except Permanent as error:
        result = {"outcome": "failed", "error": {"message": str(error), "retryable": False}}
    except Exception as error:  # anything else may work next time
        result = {"outcome": "failed", "error": {"message": str(error), "retryable": True}}
    report(channel, task, **result)
    log.info("%s: %s %s", task["task_id"], result["outcome"], result.get("error", ""))
    channel.basic_ack(method.delivery_tag)  # only once the result is confirmed


def open_channel(connection, queue):
    """A channel once the queue exists. The engine declares it before it first
    publishes to it; declaring nothing here means nothing can clash."""
    while True:
        channel = connection.channel()
        try:
            channel.queue_declare(queue, passive=True)
            return channel
        except ChannelClosedByBroker:  # 404 NOT_FOUND, which closes the channel
            log.info("waiting for the engine to declare %s", queue)
            connection.sleep(1)


def main():
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("pika").setLevel(logging.CRITICAL)  # its errors are reported below
    queue = f"distorch.task.{QUEUE}"
    while True:
        connection = None
        try:
            connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
            channel = open_channel(connection, queue)
            channel.confirm_delivery()  # publisher confirms
            channel.basic_qos(prefetch_count=1)  # one task at a time
            channel.basic_consume(queue, on_task)
            log.info("working on %s as %s", queue, WORKER)
            channel.start_consuming()
        except AMQPError as error:  # connection lost, channel closed, result nacked
            log.warning("%r; reconnecting (unacked tasks are delivered again)", error)
            if connection is not None and connection.is_open:
                connection.close()
            time.sleep(2)
        except KeyboardInterrupt:
            return


if __name__ == "__main__":
    main()
