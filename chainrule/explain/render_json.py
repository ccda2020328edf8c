"""JSON, the lossless view of the explainer's records: every other renderer shows a part of what
this one writes, and ``from_json`` reads it back into the same records."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from chainrule.explain import records

__all__ = ["from_dict", "from_json", "render_json", "to_dict"]


def _records() -> dict[str, type]:
    return {
        cls.__name__: cls
        for cls in (getattr(records, name) for name in records.__all__ if name != "VIEWS")
    }


def to_dict(record: Any) -> Any:
    """A record as plain JSON-able data; each record carries its class as ``"type"``.

    A :class:`~chainrule.explain.seeds.Tutorial` also gets step 1's ``values``, ``gradients``
    and ``updated`` and the last step's ``final`` at the top, keyed by the seeds' names.
    """
    if isinstance(record, records.Tutorial):
        out: dict[str, Any] = {"type": "Tutorial"}
        for field in dataclasses.fields(record):
            if field.name == "steps":
                out.update(
                    values=record.values,
                    gradients=record.gradients,
                    updated=record.updated,
                    final=record.final,
                )
            out[field.name] = to_dict(getattr(record, field.name))
        return out
    if dataclasses.is_dataclass(record) and not isinstance(record, type):
        out = {"type": type(record).__name__}
        for field in dataclasses.fields(record):
            value = getattr(record, field.name)
            if field.name == "via" and not value:
                continue  # a step that is the whole partial: no "via", as before it existed
            out[field.name] = to_dict(value)
        return out
    if isinstance(record, tuple | list):
        return [to_dict(item) for item in record]
    if isinstance(record, dict):
        return {str(key): to_dict(value) for key, value in record.items()}
    return record


def render_json(record: Any, indent: int | None = 2) -> str:
    """The record as JSON text (floats written to round-trip exactly)."""
    return json.dumps(to_dict(record), indent=indent, ensure_ascii=False)


def from_dict(data: Any) -> Any:
    """Rebuild records from :func:`to_dict`'s output (lists become the records' tuples)."""
    if isinstance(data, list):
        return tuple(from_dict(item) for item in data)
    if not isinstance(data, dict):
        return data
    kind = data.get("type")
    records = _records()
    if kind not in records:
        return {
            key: from_dict(value) if isinstance(value, dict) else value
            for key, value in data.items()
        }
    cls = records[kind]
    fields = {}
    for field in dataclasses.fields(cls):
        if field.name in data:
            value = data[field.name]
            keep_lists = field.name == "config"
            fields[field.name] = value if keep_lists else from_dict(value)
    return cls(**fields)


def from_json(text: str) -> Any:
    """Read :func:`render_json`'s output back into records."""
    return from_dict(json.loads(text))
