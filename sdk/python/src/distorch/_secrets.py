"""`${ secrets.NAME }` references in a task's input, resolved in the worker
(protocol, section 7), so that secret values never reach an event or the bus.
Only the strings the task names in `secrets` are resolved."""

from __future__ import annotations

import copy
import os
from typing import Any, Callable, Mapping, Optional, Sequence, Union

Lookup = Callable[[str], Optional[str]]
Secrets = Union[Lookup, Mapping[str, str], None]

OPEN = "${ secrets."
CLOSE = " }"


class MissingSecret(LookupError):
    """A reference names a secret this worker does not have: a permanent failure."""


def from_environment(name: str) -> Optional[str]:
    """`secrets.api_token` is `DISTORCH_SECRET_API_TOKEN`, as for the built-in workers."""
    return os.environ.get(f"DISTORCH_SECRET_{name.upper()}")


def lookup_of(secrets: Secrets) -> Lookup:
    if secrets is None:
        return from_environment
    if callable(secrets):
        return secrets
    mapping = secrets
    return mapping.get


def resolve(value: Any, pointers: Sequence[str], lookup: Lookup) -> Any:
    """`value` with the references in the strings at `pointers` (JSON
    Pointers the task names) replaced; `$${` there is a literal `${`. A
    reference anywhere else is data and stays as it is."""
    resolved = copy.deepcopy(value)
    for pointer in pointers:
        if pointer == "" and isinstance(resolved, str):
            resolved = _resolve_text(resolved, lookup)
            continue
        parent, key = _locate(resolved, pointer)
        if parent is not None and isinstance(parent[key], str):
            parent[key] = _resolve_text(parent[key], lookup)
    return resolved


def _locate(value: Any, pointer: str) -> tuple[Any, Any]:
    """The container holding the value at `pointer`, and its key or index."""
    if not pointer.startswith("/"):
        return None, None
    tokens = [token.replace("~1", "/").replace("~0", "~") for token in pointer[1:].split("/")]
    parent: Any = None
    key: Any = None
    current = value
    for token in tokens:
        if isinstance(current, dict) and token in current:
            parent, key = current, token
        elif isinstance(current, list) and token.isdigit() and int(token) < len(current):
            parent, key = current, int(token)
        else:
            return None, None
        current = parent[key]
    return parent, key


def _resolve_text(text: str, lookup: Lookup) -> str:
    out: list[str] = []
    rest = text
    while (start := rest.find("${")) >= 0:
        if rest[:start].endswith("$"):
            out.append(rest[: start - 1] + "${")
            rest = rest[start + 2:]
            continue
        out.append(rest[:start])
        end = rest.find(CLOSE, start + len(OPEN))
        if not rest.startswith(OPEN, start) or end < 0:
            out.append("${")
            rest = rest[start + 2:]
            continue
        name = rest[start + len(OPEN):end]
        secret = lookup(name)
        if secret is None:
            raise MissingSecret(f"secret `{name}` is not set in this worker")
        out.append(secret)
        rest = rest[end + len(CLOSE):]
    out.append(rest)
    return "".join(out)
