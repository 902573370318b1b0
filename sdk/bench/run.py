"""Steps served by a worker, measured over a running `distorch serve`'s public
API: the order saga of `distorch bench` (five task steps on queue `bench`,
each answered with `{}`) run N times with K in flight, its tasks served by
the Python SDK, the TypeScript SDK or the built-in `distorch worker --echo`.

    python3 sdk/bench/run.py --worker python --workflows 2000 --in-flight 50

It makes a database and a vhost of its own (DATABASE_URL, AMQP_URL), starts
`target/release/distorch serve` and the worker as processes, starts the
workflows with `POST /api/v1/workflows`, follows their ends on
`GET /api/v1/events/stream`, and reports throughput, latency and the CPU
time of the worker and of the node (from /proc) per task and per workflow.
"""

import argparse
import asyncio
import json
import os
import pathlib
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid

import aiohttp

ROOT = pathlib.Path(__file__).resolve().parents[2]
SAGA = """
name: bench-order
version: 1
steps:
  reserve: { type: task, queue: bench, compensate: { type: task, queue: bench } }
  charge: { type: task, queue: bench, needs: [reserve], compensate: { type: task, queue: bench } }
  ship: { type: task, queue: bench, needs: [reserve], compensate: { type: task, queue: bench } }
  confirm: { type: task, queue: bench, needs: [charge, ship] }
  notify: { type: task, queue: bench, needs: [confirm] }
"""
STEPS = 5
FINAL = "WorkflowCompleted,WorkflowFailed,WorkflowCompensated,WorkflowCompensationFailed,WorkflowCancelled"
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system time of a process and its waited-for children."""
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(value) for value in fields[11:15]) / TICKS


def worker_command(kind: str, binary: str, amqp_url: str, concurrency: int) -> list[str]:
    if kind == "python":
        return [sys.executable, str(ROOT / "sdk/bench/echo_worker.py"), amqp_url, str(concurrency)]
    if kind == "typescript":
        return ["node", str(ROOT / "sdk/bench/echo_worker.js"), amqp_url, str(concurrency)]
    return [binary, "worker", "--amqp-url", amqp_url, "--echo", "bench"]


def listening(node: subprocess.Popen[str]) -> str:
    assert node.stderr is not None
    for line in node.stderr:
        if "listening on " in line:
            return line.split("listening on ", 1)[1].split()[0].strip('"')
    raise SystemExit("the node stopped before it listened")


async def run(args: argparse.Namespace, url: str, worker_pid: int, node_pid: int) -> None:
    timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        started: dict[str, float] = {}
        latencies: list[float] = []
        done = asyncio.Event()
        slots = asyncio.Semaphore(args.in_flight)
        total = args.warmup + args.workflows
        ended = 0
        marks: dict[str, tuple[float, float, float]] = {}

        async def follow() -> None:
            nonlocal ended
            async with http.get(f"{url}/api/v1/events/stream", params={"types": FINAL}) as feed:
                ready.set()
                async for raw in feed.content:
                    line = raw.decode().strip()
                    if not line.startswith("data:"):
                        continue
                    event = json.loads(line[5:])
                    begun = started.pop(event["stream_id"], None)
                    if begun is None:
                        continue
                    if event["type"] != "WorkflowCompleted":
                        raise SystemExit(f"a workflow ended {event['type']}: {event}")
                    ended += 1
                    if ended > args.warmup:
                        latencies.append(time.perf_counter() - begun)
                    if ended == args.warmup:
                        marks["start"] = (time.perf_counter(), cpu_seconds(worker_pid), cpu_seconds(node_pid))
                    slots.release()
                    if ended == total:
                        marks["end"] = (time.perf_counter(), cpu_seconds(worker_pid), cpu_seconds(node_pid))
                        done.set()
                        return

        ready = asyncio.Event()
        following = asyncio.create_task(follow())
        await ready.wait()
        for _ in range(total):
            await slots.acquire()
            begun = time.perf_counter()
            async with http.post(f"{url}/api/v1/workflows", json={"definition": "bench-order", "input": {}}) as response:
                if response.status != 201:
                    raise SystemExit(f"start: HTTP {response.status} {await response.text()}")
                started[(await response.json())["id"]] = begun
        await asyncio.wait_for(done.wait(), timeout=600)
        following.cancel()
    (t0, w0, n0), (t1, w1, n1) = marks["start"], marks["end"]
    seconds, tasks = t1 - t0, args.workflows * STEPS
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000
    print(f"worker: {args.worker}; {args.workflows} workflows ({tasks} tasks), {args.in_flight} in flight, "
          f"after {args.warmup} to warm up")
    print(f"throughput: {args.workflows / seconds:.0f} workflows/s, {tasks / seconds:.0f} tasks/s")
    print(f"latency per workflow: p50 {pick(0.5):.1f} ms, p99 {pick(0.99):.1f} ms")
    print(f"worker CPU: {(w1 - w0) / tasks * 1e6:.0f} µs per task ({(w1 - w0) / seconds * 100:.0f}% of a core)")
    print(f"node CPU: {(n1 - n0) / args.workflows * 1e3:.2f} ms per workflow ({(n1 - n0) / seconds * 100:.0f}% of a core)")


def main() -> None:
    # A SIGTERM (say from `timeout`) still drops the database and the vhost.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--worker", choices=["python", "typescript", "builtin"], required=True)
    parser.add_argument("--workflows", type=int, default=2000)
    parser.add_argument("--in-flight", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=16, help="the SDK worker's concurrency")
    parser.add_argument("--binary", default=str(ROOT / "target/release/distorch"))
    args = parser.parse_args()
    database_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    amqp_url = os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2f")
    suffix = uuid.uuid4().hex[:12]
    database, vhost = f"sdk_bench_{suffix}", f"sdk-bench-{suffix}"
    subprocess.run(["psql", database_url, "-qc", f"create database {database}"], check=True)
    subprocess.run(["rabbitmqctl", "-q", "add_vhost", vhost], check=True, capture_output=True)
    subprocess.run(["rabbitmqctl", "-q", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"],
                   check=True, capture_output=True)
    processes: list[subprocess.Popen[str]] = []
    try:
        with tempfile.TemporaryDirectory() as folder:
            (pathlib.Path(folder) / "bench-order.yaml").write_text(SAGA)
            env = os.environ | {
                "DATABASE_URL": database_url.rsplit("/", 1)[0] + f"/{database}",
                "AMQP_URL": amqp_url.rsplit("/", 1)[0] + f"/{vhost}",
                # The bench is one caller starting workflows as fast as they end.
                "DISTORCH_RATE_LIMIT": "1000000", "DISTORCH_RATE_BURST": "1000000",
                "DISTORCH_LOG": "warn",
            }
            node = subprocess.Popen([args.binary, "serve", "--addr", "127.0.0.1:0", "--workflows", folder,
                                     "--log-format", "text"], env=env | {"DISTORCH_LOG": "info"},
                                    stderr=subprocess.PIPE, text=True)
            processes.append(node)
            url = listening(node)
            # Its later lines are read and dropped, so that it never blocks on a full pipe.
            threading.Thread(target=lambda: [None for _ in node.stderr or []], daemon=True).start()
            worker = subprocess.Popen(worker_command(args.worker, args.binary, env["AMQP_URL"], args.concurrency),
                                      env=env, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL, text=True)
            processes.append(worker)
            asyncio.run(run(args, url, worker.pid, node.pid))
    finally:
        for process in reversed(processes):
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        subprocess.run(["rabbitmqctl", "-q", "delete_vhost", vhost], capture_output=True)
        subprocess.run(["psql", database_url, "-qc", f"drop database if exists {database} with (force)"])


if __name__ == "__main__":
    main()
