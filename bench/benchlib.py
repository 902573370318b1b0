"""The measuring method of the peer harness (shared/peers/common/benchlib.py), kept here so our
figures are taken exactly as Restate's are: a closed loop of CONC lanes, CPU of whole process
trees from /proc (utime + stime + cutime + cstime, so reaped children such as PostgreSQL
backends count), memory as the sum of PSS, foreign load as `other_cpu_s`, the same percentile
rule and the same JSON shape. Additions: hooks around each measured run (outside its CPU
window), used for PostgreSQL's transaction counts.
"""
import asyncio
import math
import os
import statistics
import sys
import threading
import time

CLK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def _read_stat(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return None
    return s[s.rfind(")") + 2:].split()


def _children_map():
    m = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            f = _read_stat(d)
            if f is not None:
                m.setdefault(int(f[1]), []).append(int(d))
    return m


def _tree(roots, cmap):
    out, stack, seen = [], list(roots), set()
    while stack:
        p = stack.pop()
        if p not in seen:
            seen.add(p)
            out.append(p)
            stack.extend(cmap.get(p, []))
    return out


def _pss_kb(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _tree_cpu_mem(roots, cmap, with_mem=True):
    cpu_ticks, mem_kb = 0, 0
    for p in _tree(roots, cmap):
        f = _read_stat(p)
        if f is None:
            continue
        cpu_ticks += int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])
        pss = _pss_kb(p) if with_mem else None
        mem_kb += pss if pss is not None else int(f[21]) * PAGE // 1024
    return cpu_ticks / CLK, mem_kb / 1024


def sys_busy_s():
    """Machine-wide busy, irq+softirq and steal CPU seconds from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (v[0] + v[1] + v[2] + v[5] + v[6]) / CLK, (v[5] + v[6]) / CLK, v[7] / CLK


class ProcMon:
    """CPU and peak PSS of process trees ({name: [root pid, ...]}) over one run."""

    def __init__(self, groups, interval=None):
        self.interval = interval or float(os.environ.get("BENCH_MON_INTERVAL", "0.5"))
        self.with_pss = os.environ.get("BENCH_PSS", "1") != "0"
        self.groups = {k: [int(p) for p in v] for k, v in groups.items() if v}
        self._stop = threading.Event()
        self._thread = None
        self.peak = {k: 0.0 for k in self.groups}

    def _sample(self):
        cmap = _children_map()
        res = {k: _tree_cpu_mem(r, cmap, self.with_pss) for k, r in self.groups.items()}
        for k, (_, mem) in res.items():
            self.peak[k] = max(self.peak[k], mem)
        return res

    def _loop(self):
        while not self._stop.wait(self.interval):
            self._sample()

    def start(self):
        s = self._sample()
        self.sys0, self.irq0, self.steal0 = sys_busy_s()
        self.t0 = time.perf_counter()
        self.cpu0 = {k: v[0] for k, v in s.items()}
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=2)
        s = self._sample()
        elapsed = time.perf_counter() - self.t0
        cpu = {k: round(s[k][0] - self.cpu0.get(k, 0.0), 2) for k in self.groups}
        busy, irq, steal = sys_busy_s()
        busy, irq, steal = busy - self.sys0, irq - self.irq0, steal - self.steal0
        return {
            "cpu_s": cpu,
            "irq_cpu_s": round(irq, 2),
            "other_cpu_s": round(max(0.0, busy - irq - sum(cpu.values())), 2),
            "steal_s": round(steal, 2),
            "sys_busy_cores": round(busy / elapsed, 2) if elapsed > 0 else None,
            "peak_pss_mb": {k: round(v, 1) for k, v in self.peak.items()},
        }


def parse_pid_args(items):
    """['engine=12,13', 'worker=14'] -> {'engine': [12, 13], 'worker': [14]}"""
    groups = {}
    for it in items or []:
        name, _, pids = it.partition("=")
        groups[name] = [int(p) for p in pids.split(",") if p.strip()]
    return groups


def pct(sorted_vals, p):
    if not sorted_vals:
        return None
    return sorted_vals[max(0, math.ceil(p / 100.0 * len(sorted_vals)) - 1)]


async def run_closed_loop(start_one, n, concurrency, time_limit_s):
    """Keeps `concurrency` calls of start_one(i) (-> outcome string) in flight until n were
    started. Returns (latencies_s, outcomes{str: int}, wall_s, timed_out)."""
    latencies, outcomes = [], {}
    next_i = 0
    t_begin = time.perf_counter()
    deadline = t_begin + time_limit_s
    t_last = [t_begin]

    async def lane():
        nonlocal next_i
        while next_i < n and time.perf_counter() < deadline:
            i = next_i
            next_i += 1
            ts = time.perf_counter()
            try:
                out = await start_one(i)
            except Exception as e:  # noqa: BLE001
                out = "exception:" + type(e).__name__ + ":" + str(e)[:120]
            te = time.perf_counter()
            t_last[0] = max(t_last[0], te)
            latencies.append(te - ts)
            outcomes[out] = outcomes.get(out, 0) + 1

    lanes = [asyncio.create_task(lane()) for _ in range(concurrency)]
    timed_out = False
    try:
        await asyncio.wait_for(asyncio.gather(*lanes), timeout=time_limit_s + 60)
    except asyncio.TimeoutError:
        timed_out = True
        for t in lanes:
            t.cancel()
    if next_i < n:
        timed_out = True
    return latencies, outcomes, t_last[0] - t_begin, timed_out


def summarize(latencies, outcomes, wall_s, timed_out, expected, extra=None):
    lat = sorted(latencies)
    ok = outcomes.get(expected, 0)
    r = {
        "started": len(lat),
        "ok": ok,
        "unexpected": {k: v for k, v in outcomes.items() if k != expected},
        "timed_out": timed_out,
        "wall_s": round(wall_s, 3),
        "throughput_wps": round(ok / wall_s, 1) if wall_s > 0 else None,
        "p50_ms": round(pct(lat, 50) * 1000, 1) if lat else None,
        "p99_ms": round(pct(lat, 99) * 1000, 1) if lat else None,
        "max_ms": round(lat[-1] * 1000, 1) if lat else None,
    }
    r.update(extra or {})
    return r


def speed_probe():
    """Seconds for a fixed pure-Python loop (median of 3): how fast the cores are now."""
    ts = []
    for _ in range(3):
        t = time.perf_counter()
        acc = 0
        for i in range(5_000_000):
            acc += i
        ts.append(time.perf_counter() - t)
    return round(statistics.median(ts), 3)


def median_summary(runs):
    def med(key):
        vals = [r[key] for r in runs if r.get(key) is not None]
        return round(statistics.median(vals), 1) if vals else None

    out = {k: med(k) for k in ("throughput_wps", "p50_ms", "p99_ms")}
    out["runs"] = len(runs)
    out["all_ok"] = all(not r["unexpected"] and not r["timed_out"] for r in runs)
    out["other_cpu_s_max"] = max((r.get("other_cpu_s") or 0.0) for r in runs)
    keys = sorted({k for r in runs for k in r.get("cpu_s", {})})
    out["cpu_s_median"] = {
        k: round(statistics.median([r["cpu_s"][k] for r in runs if k in r["cpu_s"]]), 2)
        for k in keys}
    keys = sorted({k for r in runs for k in r.get("peak_pss_mb", {})})
    out["peak_pss_mb_max"] = {
        k: max(r["peak_pss_mb"][k] for r in runs if k in r["peak_pss_mb"]) for k in keys}
    return out


PER_RUN_KEYS = ("throughput_wps", "p50_ms", "p99_ms", "ok", "started", "unexpected",
                "timed_out", "wall_s", "cpu_s", "irq_cpu_s", "other_cpu_s", "steal_s",
                "sys_busy_cores", "peak_pss_mb")


async def bench_variants(peer, mode, run_variant, variants, runs, n, concurrency, time_limit_s,
                         pid_groups, warmup_n=100, extra=None, before_run=None, after_run=None,
                         extra_keys=()):
    """Warm-up, then `runs` runs of each variant. run_variant(v, n, conc, limit) -> (latencies,
    outcomes, wall_s, timed_out, expected). before_run() -> token and after_run(token, n) ->
    dict of extra figures are awaited outside the CPU window of each measured run."""
    def log(*a):
        print(*a, file=sys.stderr, flush=True)

    pid_groups = dict(pid_groups)
    pid_groups.setdefault("client", [os.getpid()])
    if warmup_n:
        for v in variants:
            lat, outc, wall, to, exp = await run_variant(v, warmup_n, concurrency, time_limit_s)
            log(f"[{peer}/{mode}] warmup {v}: {summarize(lat, outc, wall, to, exp)}")
    result = {"peer": peer, "mode": mode, "n": n, "concurrency": concurrency,
              "date": time.strftime("%Y-%m-%d %H:%M"), "nproc": os.cpu_count(),
              "speed_probe_s": speed_probe()}
    result.update(extra or {})
    import json
    for v in variants:
        rs = []
        for k in range(runs):
            token = await before_run() if before_run else None
            mon = ProcMon(pid_groups)
            mon.start()
            lat, outc, wall, to, exp = await run_variant(v, n, concurrency, time_limit_s)
            s = summarize(lat, outc, wall, to, exp, mon.stop())
            if after_run:
                s.update(await after_run(token, n))
            log(f"[{peer}/{mode}] {v} run {k + 1}/{runs}: {json.dumps(s)}")
            rs.append(s)
        result[v] = median_summary(rs)
        result[v]["per_run"] = [{kk: r.get(kk) for kk in PER_RUN_KEYS + tuple(extra_keys)}
                                for r in rs]
    return result


def wait_quiet(max_wait_s, busy_cores=0.3):
    """Waits (bounded) until the machine is mostly idle, as the peer harness does."""
    t0 = time.time()
    while True:
        b0 = sys_busy_s()[0]
        time.sleep(2)
        cores = (sys_busy_s()[0] - b0) / 2
        if cores < busy_cores or time.time() - t0 > max_wait_s:
            quiet = "quiet" if cores < busy_cores else "STILL BUSY (see other_cpu_s)"
            print(f"[wait_quiet] {cores:.2f} busy cores after {time.time() - t0:.0f}s: {quiet}",
                  file=sys.stderr, flush=True)
            return
