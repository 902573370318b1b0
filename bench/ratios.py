"""Prints DisTorch's figures next to Restate's, and their ratios, from the JSON lines of
bench/run.sh and the Restate peer's run.sh (one file each; see side_by_side.sh).

usage: ratios.py FILE...   (a file's name says what it holds: distorch-<worker>-<kind>-<round>.json
                             or restate-<kind>-<round>.json, kind = load | latency)
"""
import json
import os
import re
import sys


def load(path):
    lines = [line for line in open(path).read().splitlines() if line.strip().startswith("{")]
    return json.loads(lines[-1]) if lines else None


def figures(doc, variant):
    r = doc.get(variant)
    if not r:
        return None
    cpu = r.get("cpu_s_median", {})
    run = (r.get("per_run") or [{}])[0]
    return {
        "wps": r.get("throughput_wps"), "p50": r.get("p50_ms"), "p99": r.get("p99_ms"),
        "cpu_ms": 1000 * sum(cpu.values()) / doc["n"],
        "by_process": " ".join(f"{k}={1000 * v / doc['n']:.2f}" for k, v in sorted(cpu.items())),
        "other_cpu_s": r.get("other_cpu_s_max"), "ok": r.get("all_ok"),
        "pg_commits": run.get("pg_commits_per_wf"),
    }


def ratio(a, b):
    return f"{a / b:.2f}x" if a is not None and b else "-"


def main(paths):
    docs = {}
    for path in paths:
        m = re.match(r"(distorch-\w+|restate)-(load|latency)-(\d+)\.json$", os.path.basename(path))
        doc = load(path) if m else None
        if doc:
            docs[(m.group(1), m.group(2), m.group(3))] = doc
    rounds = sorted({k[2] for k in docs}, key=int)
    ours = sorted({k[0] for k in docs if k[0] != "restate"})
    print("| round | what | system | wf/s | p50 ms | p99 ms | CPU ms/wf (all) | by process (ms/wf)"
          " | PG commits/wf | other_cpu_s | all ok | ours/Restate: wf/s, CPU, p50, p99 |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for rnd in rounds:
        for kind, variants in (("load", ("A", "B")), ("latency", ("A",))):
            restate = docs.get(("restate", kind, rnd))
            for v in variants:
                what = f"{v}, {'1' if kind == 'latency' else (restate or {}).get('concurrency', '?')} in flight"
                base = figures(restate, v) if restate else None
                for system in ours + ["restate"]:
                    doc = docs.get((system, kind, rnd))
                    f = figures(doc, v) if doc else None
                    if not f:
                        continue
                    ratios = "" if system == "restate" or not base else ", ".join((
                        ratio(f["wps"], base["wps"]), ratio(f["cpu_ms"], base["cpu_ms"]),
                        ratio(f["p50"], base["p50"]), ratio(f["p99"], base["p99"])))
                    print(f"| {rnd} | {what} | {system} | {f['wps']} | {f['p50']} | {f['p99']} | "
                          f"{f['cpu_ms']:.2f} | {f['by_process']} | {f['pg_commits'] or '-'} | "
                          f"{f['other_cpu_s']} | {'yes' if f['ok'] else 'NO'} | {ratios} |")


if __name__ == "__main__":
    main(sys.argv[1:])
