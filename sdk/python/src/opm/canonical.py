"""The server's content hash, recomputed locally: `sha256:` + hex SHA-256 of the canonical JSON of a
version's content (crates/opm-core/src/content.rs, canonical.rs).

Canonical JSON is serde_json's output with object keys sorted and no whitespace. Two details make
a naive `json.dumps(sort_keys=True)` differ from it: the stored form of the content (every variable
has `type` and `required`, `variables` is always present, empty `metadata`/`parameters` and null
optional fields are absent) and float formatting (serde_json writes `1e-7` and `1e+16` where
Python writes `1e-07` and `1e+16`, and `0.00001` where Python writes `1e-05`).
"""

from __future__ import annotations

import hashlib
import json
import math
from decimal import Decimal
from typing import Any, Dict, List, Mapping

__all__ = ["canonical_json", "content_hash", "stored_content"]


def _float(value: float) -> str:
    """serde_json's shortest round-trip formatting of a finite f64 (its `zmij` formatter): positional
    for decimal exponents -5 to 15 (`0.00001`, `1000000000000000.0`), else `1e+16`, `1.5e-7`."""
    if not math.isfinite(value):
        return "null"  # serde_json writes non-finite floats as null
    if value == 0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    sign = "-" if value < 0 else ""
    decimal_tuple = Decimal(repr(abs(value))).as_tuple()
    digits = "".join(str(d) for d in decimal_tuple.digits).rstrip("0") or "0"
    exponent = int(decimal_tuple.exponent) + (len(decimal_tuple.digits) - len(digits))
    length = len(digits)
    point = length + exponent  # the decimal point's position relative to the digits' start
    if 0 <= exponent and point <= 16:
        text = digits + "0" * exponent + ".0"
    elif 0 < point <= 16:
        text = digits[:point] + "." + digits[point:]
    elif -5 < point <= 0:
        text = "0." + "0" * (-point) + digits
    else:
        mantissa = digits if length == 1 else f"{digits[0]}.{digits[1:]}"
        exponent_sign = "+" if point - 1 >= 0 else "-"
        text = f"{mantissa}e{exponent_sign}{abs(point - 1)}"
    return sign + text


def _write(value: Any, out: List[str]) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, float):
        out.append(_float(value))
    elif isinstance(value, str):
        out.append(json.dumps(value, ensure_ascii=False))
    elif isinstance(value, Mapping):
        out.append("{")
        for index, key in enumerate(sorted(value)):
            if index:
                out.append(",")
            out.append(json.dumps(str(key), ensure_ascii=False))
            out.append(":")
            _write(value[key], out)
        out.append("}")
    elif isinstance(value, (list, tuple)):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _write(item, out)
        out.append("]")
    else:
        raise TypeError(f"{type(value).__name__} is not a JSON value")


def canonical_json(value: Any) -> str:
    """Object keys sorted at every depth, no insignificant whitespace, serde_json's number format."""
    out: List[str] = []
    _write(value, out)
    return "".join(out)


def stored_content(content: Mapping[str, Any]) -> Dict[str, Any]:
    """A version's content (the wire `ContentDto`) in the form the server hashes (`VersionContent`)."""
    stored: Dict[str, Any] = {"type": content["type"]}
    if content.get("messages") is not None:
        stored["messages"] = [{"role": m["role"], "content": m["content"]} for m in content["messages"]]
    if content.get("template") is not None:
        stored["template"] = content["template"]
    variables: Dict[str, Any] = {}
    for name, spec in (content.get("variables") or {}).items():
        spec = spec or {}
        one: Dict[str, Any] = {"type": spec.get("type") or "string", "required": spec.get("required", True) is not False}
        if spec.get("default") is not None:
            one["default"] = spec["default"]
        if spec.get("description") is not None:
            one["description"] = spec["description"]
        variables[name] = one
    stored["variables"] = variables
    model = content.get("model")
    if model is not None:
        stored_model: Dict[str, Any] = {}
        for field in ("provider", "model", "tools", "response_format"):
            if model.get(field) is not None:
                stored_model[field] = model[field]
        if model.get("parameters"):
            stored_model["parameters"] = model["parameters"]
        if model.get("fallbacks"):
            stored_model["fallbacks"] = [{"provider": f["provider"], "model": f["model"]} for f in model["fallbacks"]]
        stored["model"] = stored_model
    if content.get("metadata"):
        stored["metadata"] = content["metadata"]
    return stored


def content_hash(content: Mapping[str, Any]) -> str:
    """`sha256:<hex>` of the canonical JSON of the stored form of `content`, as the server computes it."""
    digest = hashlib.sha256(canonical_json(stored_content(content)).encode("utf-8")).hexdigest()
    return f"sha256:{digest}"
