"""JSON Schema <-> Gemini's Schema object (a select subset of OpenAPI 3.0).

Gemini rejects unknown keywords ($schema, additionalProperties, $ref, ...), so a tool schema
written for OpenAI or Anthropic is rewritten into the documented subset: local $refs are
inlined, allOf merged, oneOf turned into anyOf, `type: [x, "null"]` into `nullable`, `const`
into a one-value enum, enum values into strings, and unsupported string formats dropped.
"""

from __future__ import annotations

from typing import Any

_TYPES = {"string", "number", "integer", "boolean", "array", "object"}
_FORMATS = {"string": {"enum", "date-time"}, "number": {"float", "double"}, "integer": {"int32", "int64"}}
_MAX_DEPTH = 24


def to_gemini(schema: Any) -> dict:
    """A Gemini-acceptable copy of a JSON Schema (the input is not modified)."""
    if not isinstance(schema, dict):
        return {"type": "OBJECT"}
    defs = {}
    for key in ("$defs", "definitions"):
        if isinstance(schema.get(key), dict):
            defs.update({f"#/{key}/{name}": value for name, value in schema[key].items()})
    out = _clean(schema, defs, 0, frozenset())
    if "type" not in out and "anyOf" not in out:
        out["type"] = "OBJECT"
    return out


def _resolve(node: dict, defs: dict, seen: frozenset) -> tuple[dict, frozenset]:
    ref = node.get("$ref")
    while isinstance(ref, str):
        if ref in seen or ref not in defs:
            # A recursive or external reference cannot be expressed: leave an open object.
            return {"type": "object", "description": node.get("description", "")}, seen
        seen = seen | {ref}
        node = {**defs[ref], **{k: v for k, v in node.items() if k != "$ref"}}
        ref = node.get("$ref") if node.get("$ref") != ref else None
    return node, seen


def _merge_all_of(node: dict) -> dict:
    parts = node.get("allOf")
    if not isinstance(parts, list):
        return node
    merged = {k: v for k, v in node.items() if k != "allOf"}
    for part in parts:
        if not isinstance(part, dict):
            continue
        for key, value in part.items():
            if key == "properties" and isinstance(value, dict):
                merged["properties"] = {**merged.get("properties", {}), **value}
            elif key == "required" and isinstance(value, list):
                merged["required"] = list(dict.fromkeys([*merged.get("required", []), *value]))
            else:
                merged.setdefault(key, value)
    return merged


def _clean(node: Any, defs: dict, depth: int, seen: frozenset) -> dict:
    if not isinstance(node, dict) or depth > _MAX_DEPTH:
        return {"type": "STRING"} if not isinstance(node, dict) else {"type": "OBJECT"}
    node, seen = _resolve(node, defs, seen)
    node = _merge_all_of(node)
    out: dict[str, Any] = {}
    nullable = bool(node.get("nullable"))
    jtype = node.get("type")
    if isinstance(jtype, list):
        nullable = nullable or "null" in jtype
        kinds = [t for t in jtype if t in _TYPES]
        if len(kinds) == 1:
            jtype = kinds[0]
        elif kinds:
            out["anyOf"] = [{"type": t.upper()} for t in kinds]
            jtype = None
        else:
            jtype = None
    if isinstance(jtype, str) and jtype.lower() in _TYPES:
        jtype = jtype.lower()
        out["type"] = jtype.upper()
    else:
        jtype = None
    if nullable:
        out["nullable"] = True
    for key in ("description", "title", "pattern"):
        if isinstance(node.get(key), str):
            out[key] = node[key]
    if "example" in node:
        out["example"] = node["example"]
    elif isinstance(node.get("examples"), list) and node["examples"]:
        out["example"] = node["examples"][0]
    if "default" in node:
        out["default"] = node["default"]
    for key in ("minItems", "maxItems", "minLength", "maxLength", "minProperties", "maxProperties"):
        if isinstance(node.get(key), int) and not isinstance(node.get(key), bool):
            out[key] = node[key]
    for key in ("minimum", "maximum"):
        if isinstance(node.get(key), (int, float)) and not isinstance(node.get(key), bool):
            out[key] = node[key]
    enum = node.get("enum")
    if "const" in node and enum is None:
        enum = [node["const"]]
    if isinstance(enum, list):
        values = [v if isinstance(v, str) else _enum_text(v) for v in enum if v is not None]
        if values:
            out["enum"] = values
            out["type"] = "STRING"
            out["format"] = "enum"
            jtype = "string"
    fmt = node.get("format")
    if isinstance(fmt, str) and jtype and fmt in _FORMATS.get(jtype, set()) and "format" not in out:
        out["format"] = fmt
    variants = node.get("anyOf") if isinstance(node.get("anyOf"), list) else node.get("oneOf")
    if isinstance(variants, list):
        cleaned = []
        for variant in variants:
            if isinstance(variant, dict) and variant.get("type") == "null":
                out["nullable"] = True
                continue
            cleaned.append(_clean(variant, defs, depth + 1, seen))
        if len(cleaned) == 1 and "type" not in out:
            out.update({k: v for k, v in cleaned[0].items() if k not in out})
        elif cleaned:
            out["anyOf"] = cleaned
    if jtype == "object" or isinstance(node.get("properties"), dict):
        props = node.get("properties") if isinstance(node.get("properties"), dict) else {}
        if props:
            out["properties"] = {name: _clean(sub, defs, depth + 1, seen) for name, sub in props.items()}
            required = [r for r in node.get("required", []) if isinstance(r, str) and r in props]
            if required:
                out["required"] = required
        out.setdefault("type", "OBJECT")
    if jtype == "array" or "items" in node:
        items = node.get("items")
        if isinstance(items, list):  # tuple form: Gemini has none; the first shape is the closest
            items = items[0] if items else {}
        out["items"] = _clean(items if isinstance(items, dict) else {"type": "string"}, defs, depth + 1, seen)
        out.setdefault("type", "ARRAY")
    return out


def _enum_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def from_gemini(schema: Any) -> dict:
    """A Gemini Schema (upper-case types, `nullable`) as standard JSON Schema."""
    if not isinstance(schema, dict):
        return {"type": "object", "properties": {}}
    out = _from_gemini(schema)
    if out.get("type") != "object":
        out = {"type": "object", "properties": {"value": out}}
    out.setdefault("properties", {})
    return out


def _from_gemini(node: dict) -> dict:
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "type" and isinstance(value, str):
            out["type"] = value.lower() if value.upper() != "TYPE_UNSPECIFIED" else "object"
        elif key == "properties" and isinstance(value, dict):
            out["properties"] = {k: _from_gemini(v) for k, v in value.items() if isinstance(v, dict)}
        elif key == "items" and isinstance(value, dict):
            out["items"] = _from_gemini(value)
        elif key in ("anyOf", "any_of") and isinstance(value, list):
            out["anyOf"] = [_from_gemini(v) for v in value if isinstance(v, dict)]
        elif key in (
            "minItems",
            "maxItems",
            "minLength",
            "maxLength",
            "minProperties",
            "maxProperties",
            "min_items",
            "max_items",
            "min_length",
            "max_length",
        ):
            camel = _camel(key)
            try:
                out[camel] = int(value)
            except (TypeError, ValueError):
                continue
        elif (key == "format" and value == "enum") or key in (
            "nullable",
            "propertyOrdering",
            "property_ordering",
        ):
            continue
        else:
            out[_camel(key)] = value
    if node.get("nullable") and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    return out


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(w.title() for w in rest)
