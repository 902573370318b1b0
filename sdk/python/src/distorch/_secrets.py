"""`${ secrets.NAME }` references in a task's input, resolved in the worker
(protocol, section 7), so that secret values never reach an event or the bus."""

from __future__ import annotations

import os
from typing import Any, Callable, Mapping, Optional, Union

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


def resolve(value: Any, lookup: Lookup) -> Any:
    """`value` with each reference in its strings, at any depth, replaced."""
    if isinstance(value, str):
        return _resolve_text(value, lookup)
    if isinstance(value, list):
        return [resolve(item, lookup) for item in value]
    if isinstance(value, dict):
        return {key: resolve(item, lookup) for key, item in value.items()}
    return value


def _resolve_text(text: str, lookup: Lookup) -> str:
    out: list[str] = []
    rest = text
    while (start := rest.find(OPEN)) >= 0:
        out.append(rest[:start])
        after = rest[start + len(OPEN):]
        end = after.find(CLOSE)
        if end < 0:
            out.append(rest[start:])
            return "".join(out)
        name = after[:end]
        secret = lookup(name)
        if secret is None:
            raise MissingSecret(f"secret `{name}` is not set in this worker")
        out.append(secret)
        rest = after[end + len(CLOSE):]
    out.append(rest)
    return "".join(out)
