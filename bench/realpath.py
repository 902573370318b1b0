"""The order saga on the path users run, driven over DisTorch's public API only: each workflow is
started with `POST /api/v1/workflows`, and its end is learnt from ONE Server-Sent Events
connection (`GET /api/v1/events/stream`, filtered to the final event types) shared by all
lanes. Latency is start request -> the client sees the final event. The method (closed loop,
CPU from /proc, PSS) is benchlib's, the same as the Restate peer's. Prints one JSON line.
"""
import argparse
import asyncio
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import aiohttp  # noqa: E402
import benchlib  # noqa: E402

FINAL_TYPES = ("WorkflowCompleted", "WorkflowCompensated", "WorkflowFailed",
               "WorkflowCompensationFailed", "WorkflowCancelled")
OUTCOME = {"WorkflowCompleted": "completed", "WorkflowCompensated": "compensated"}


class Finals:
    """Final events by workflow id; an event may come before its start's answer does."""

    def __init__(self):
        self.waiters, self.early = {}, {}

    def expect(self, workflow_id):
        future = asyncio.get_running_loop().create_future()
        if workflow_id in self.early:
            future.set_result(self.early.pop(workflow_id))
        else:
            self.waiters[workflow_id] = future
        return future

    def forget(self, workflow_id):
        self.waiters.pop(workflow_id, None)

    def seen(self, workflow_id, event_type):
        future = self.waiters.pop(workflow_id, None)
        if future is None:
            self.early[workflow_id] = event_type
        elif not future.done():
            future.set_result(event_type)


async def follow(url, finals, connected):
    """Reads the feed forever; reconnects with Last-Event-ID after a `lagged` end or a drop."""
    timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
    last_id = None
    async with aiohttp.ClientSession(timeout=timeout) as http:
        while True:
            headers = {"Accept": "text/event-stream"}
            if last_id is not None:
                headers["Last-Event-ID"] = last_id
            try:
                async with http.get(url, headers=headers) as response:
                    response.raise_for_status()
                    connected.set()
                    event, data = None, []
                    async for raw in response.content:
                        line = raw.decode().rstrip("\r\n")
                        if line.startswith(":"):
                            continue
                        if line:
                            field, _, value = line.partition(":")
                            value = value[1:] if value.startswith(" ") else value
                            if field == "event":
                                event = value
                            elif field == "data":
                                data.append(value)
                            elif field == "id":
                                last_id = value
                            continue
                        if event == "lagged":
                            print("[realpath] feed lagged; resuming", file=sys.stderr)
                        elif data:
                            body = json.loads("\n".join(data))
                            finals.seen(body["stream_id"], body["type"])
                        event, data = None, []
            except (aiohttp.ClientError, asyncio.TimeoutError) as error:
                print(f"[realpath] feed dropped ({error!r}); reconnecting", file=sys.stderr)
            await asyncio.sleep(0.2)


def psql(url, sql):
    out = subprocess.run(["psql", "-X", "-At", "-F", "\t", url, "-c", sql], check=True,
                         capture_output=True, text=True).stdout
    return [line.split("\t") for line in out.splitlines() if line]


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", default="http://127.0.0.1:8080")
    ap.add_argument("--definition", default="bench-order")
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=50)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--variants", default="A,B")
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--time-limit", type=float, default=600)
    ap.add_argument("--mode", default="")
    ap.add_argument("--pid", action="append", help="group=pid[,pid]")
    ap.add_argument("--extra", default="")
    ap.add_argument("--pg-url", help="the engine's database: transactions per workflow")
    ap.add_argument("--statements", help="write pg_stat_statements of each run here (JSON lines)")
    ap.add_argument("--quiet-wait", type=float, default=120,
                    help="seconds to wait for an idle machine before measuring")
    a = ap.parse_args()

    finals = Finals()
    connected = asyncio.Event()
    feed_url = f"{a.url}/api/v1/events/stream?types={','.join(FINAL_TYPES)}"
    feed = asyncio.create_task(follow(feed_url, finals, connected))
    await asyncio.wait_for(connected.wait(), 30)
    benchlib.wait_quiet(a.quiet_wait)

    async def before_run():
        if not a.pg_url:
            return None
        if a.statements:
            psql(a.pg_url, "select pg_stat_statements_reset()")
        await asyncio.sleep(1.5)  # backends publish their statistics at most once a second
        return psql(a.pg_url, "select xact_commit, xact_rollback from pg_stat_database "
                              "where datname = current_database()")[0]

    async def after_run(before, n):
        if before is None:
            return {}
        await asyncio.sleep(1.5)
        after = psql(a.pg_url, "select xact_commit, xact_rollback from pg_stat_database "
                               "where datname = current_database()")[0]
        # less the client's own statistics query (the one that read `before`)
        commits = int(after[0]) - int(before[0]) - 1
        figures = {"pg_commits_per_wf": round(commits / n, 2),
                   "pg_rollbacks_per_wf": round((int(after[1]) - int(before[1])) / n, 3)}
        if a.statements:
            rows = psql(a.pg_url, "select calls, round(total_exec_time::numeric, 1), rows, "
                                  "regexp_replace(query, '\\s+', ' ', 'g') from pg_stat_statements "
                                  "order by total_exec_time desc limit 40")
            with open(a.statements, "a") as f:
                f.write(json.dumps({"n": n, "statements": [
                    {"calls": int(r[0]), "total_ms": float(r[1]), "rows": int(r[2]),
                     "query": r[3][:400]} for r in rows]}) + "\n")
        return figures

    conn = aiohttp.TCPConnector(limit=a.concurrency + 10)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(connector=conn, timeout=timeout) as http:

        async def run_variant(variant, n, conc, limit):
            fail = variant == "B"

            async def one(i):
                body = {"definition": a.definition, "input": {"fail": fail, "order": i}}
                async with http.post(f"{a.url}/api/v1/workflows", json=body) as response:
                    text = await response.text()
                if response.status != 201:
                    return f"http{response.status}:{text[:80]}"
                workflow_id = json.loads(text)["id"]
                try:
                    final = await asyncio.wait_for(finals.expect(workflow_id), 120)
                except asyncio.TimeoutError:
                    finals.forget(workflow_id)
                    return "no final event within 120 s"
                return OUTCOME.get(final, final)

            lat, outcomes, wall, timed_out = await benchlib.run_closed_loop(one, n, conc, limit)
            return lat, outcomes, wall, timed_out, ("compensated" if fail else "completed")

        result = await benchlib.bench_variants(
            "distorch", a.mode, run_variant, a.variants.split(","), a.runs, a.n, a.concurrency,
            a.time_limit, benchlib.parse_pid_args(a.pid), warmup_n=a.warmup,
            extra={"versions": a.extra}, before_run=before_run, after_run=after_run,
            extra_keys=("pg_commits_per_wf", "pg_rollbacks_per_wf"))
    feed.cancel()
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
