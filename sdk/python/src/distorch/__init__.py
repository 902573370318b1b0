"""DisTorch's worker SDK: serve a task queue with a Python function.

    from distorch import Worker, Permanent

    worker = Worker(amqp_url="amqp://guest:guest@localhost:5672/%2f", name="payments")

    @worker.task("payments")
    async def charge(task):
        if task.input["amount"] <= 0:
            raise Permanent("amount must be positive")
        return {"charge_id": f"ch-{task.idempotency_key}"}

    worker.run()

The wire protocol is docs/worker-protocol.md in the DisTorch repository.
"""

from ._message import Kind
from ._secrets import MissingSecret
from ._task import Permanent, Task
from ._worker import Worker

__all__ = ["Kind", "MissingSecret", "Permanent", "Task", "Worker"]
__version__ = "0.1.0"
