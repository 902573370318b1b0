"""The conformance cases' functions (cases.json) as one exec command for the
built-in `distorch worker --exec` (docs/worker-protocol.md, section 9): the
case is the task's step ($DISTORCH_STEP), the input comes on stdin, the
output goes to stdout, exit 2 fails for good and exit 1 retryably."""

import json
import os
import pathlib
import sys
import time

FIXTURE = json.loads((pathlib.Path(__file__).parent / "cases.json").read_text())
CASES = {case["name"]: case for case in FIXTURE["cases"]}


def main() -> int:
    function = CASES[os.environ["DISTORCH_STEP"]]["function"]
    task_input = json.loads(sys.stdin.read() or "null")
    task_id = os.environ["DISTORCH_TASK_ID"]
    fields = {
        "kind": task_id.rsplit(":", 2)[1],
        "attempt": int(os.environ["DISTORCH_ATTEMPT"]),
        "idempotency_key": os.environ["DISTORCH_IDEMPOTENCY_KEY"],
        "step": os.environ["DISTORCH_STEP"],
    }
    if function.get("hangs"):
        time.sleep(3600)
    if "sleeps_ms" in function:
        time.sleep(function["sleeps_ms"] / 1000)
    if "fails" in function:
        print(function["fails"], file=sys.stderr)
        return 2 if function["permanent"] else 1
    if "returns_task" in function:
        output = {name: fields[name] for name in function["returns_task"]}
    elif "returns_input_equals" in function:
        output = {"input_as_expected": task_input == function["returns_input_equals"]}
    elif function.get("returns_trace_id"):
        parent = os.environ.get("TRACEPARENT")
        output = {"trace_id": parent.split("-")[1] if parent else None}
    elif function.get("returns_unserialisable"):
        print("this is not JSON")
        return 0
    else:
        output = function.get("returns")
    print(json.dumps(output))
    return 0


if __name__ == "__main__":
    sys.exit(main())
