"""Workers for the task queues of the example workflows in workflows/, with
the Python SDK: stand-ins for the payment provider, the warehouse, the credit
bureau, the suppliers and the ETL jobs, each answering with an output built
from its input and idempotency key (so a step run twice gives the same).

    python3 workflows.py amqp amqp://guest:guest@localhost:5672/%2f
    python3 workflows.py http http://localhost:8080 [TOKEN]

A hotel in a city called `SOLD-OUT` fails for good, so the travel booking
compensates. `etl.transform` is a sync function: it runs in the thread pool.
"""

import sys
import time

from distorch import Permanent, Task, Worker

transport, url = sys.argv[1], sys.argv[2]
if transport == "amqp":
    worker = Worker(amqp_url=url, name="examples-python")
else:
    worker = Worker(http_url=url, token=sys.argv[3] if len(sys.argv) > 3 else None,
                    name="examples-python")


# order-fulfilment
@worker.task("payments")
async def charge(task: Task) -> dict[str, object]:
    await task.heartbeat(progress=50, message=f"authorising {task.input['amount']}")
    task.log("charging %s %s", task.input["amount"], task.input["currency"])
    return {"charge_id": f"ch-{task.idempotency_key}", "amount": task.input["amount"]}


@worker.compensation("payments")
async def refund(task: Task) -> dict[str, object]:
    return {"refunded": task.input["refund_of"]}


@worker.task("shipping")
async def ship(task: Task) -> dict[str, object]:
    return {"shipment_id": f"sh-{task.input['order_id']}", "tracking_number": f"TR-{task.input['order_id']}"}


@worker.compensation("shipping")
async def cancel_shipment(task: Task) -> dict[str, object]:
    return {"cancelled": task.input["cancel_shipment"]}


# loan-approval
@worker.task("credit")
async def credit_score(task: Task) -> dict[str, object]:
    return {"score": 780, "applicant": task.input["applicant_id"]}


@worker.task("payouts")
async def disburse(task: Task) -> dict[str, object]:
    return {"transfer_id": f"tr-{task.input['application_id']}", "amount": task.input["amount"]}


# travel-booking
@worker.task("flights")
async def book_flight(task: Task) -> dict[str, object]:
    return {"pnr": f"PNR-{task.input['trip_id']}"}


@worker.compensation("flights")
async def cancel_flight(task: Task) -> dict[str, object]:
    return {"cancelled": task.input["cancel_booking"]}


@worker.task("hotels")
async def book_hotel(task: Task) -> dict[str, object]:
    if task.input["city"] == "SOLD-OUT":
        raise Permanent(f"no room in {task.input['city']}")
    return {"confirmation": f"H-{task.input['trip_id']}"}


@worker.compensation("hotels")
async def cancel_hotel(task: Task) -> dict[str, object]:
    return {"cancelled": task.input["cancel_reservation"]}


@worker.task("cars")
async def book_car(task: Task) -> dict[str, object]:
    return {"rental_id": f"C-{task.input['trip_id']}"}


@worker.compensation("cars")
async def cancel_car(task: Task) -> dict[str, object]:
    return {"cancelled": task.input["cancel_rental"]}


@worker.task("notifications")
async def notify(task: Task) -> dict[str, object]:
    return {"sent_to": task.input["to"], "template": task.input["template"]}


# data-pipeline
@worker.task("etl.extract")
async def extract(task: Task) -> dict[str, object]:
    return {"snapshot": f"snap-{task.input['date']}-{task.input['region']}"}


@worker.compensation("etl.extract")
async def drop_snapshot(task: Task) -> dict[str, object]:
    return {"dropped": task.input["drop_snapshot"]}


@worker.task("etl.transform")
def transform(task: Task) -> dict[str, object]:
    time.sleep(0.05)  # blocking work, in the thread pool
    task.heartbeat_sync(progress=100)
    return {"table": f"{task.input['job']}@{task.input['snapshot']}"}


@worker.task("etl.geocode")
async def geocode(task: Task) -> dict[str, object]:
    return {"table": f"geo@{task.input['snapshot']}"}


@worker.task("etl.aggregate")
async def aggregate(task: Task) -> dict[str, object]:
    return {"report": f"report-{task.input['date']}", "tables": task.input["tables"]}


if __name__ == "__main__":
    worker.run()
