#!/usr/bin/env bash
# The benchmark client's Python (aiohttp, the Restate peer's version) and the example worker's
# pika, in bench/.venv. Idempotent.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
[[ -x $HERE/.venv/bin/python ]] || python3 -m venv "$HERE/.venv"
"$HERE/.venv/bin/pip" install -q --disable-pip-version-check -r "$HERE/requirements.txt"
