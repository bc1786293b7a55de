#!/usr/bin/env python3
"""Cuts Stripe's published OpenAPI description (spec3.json) down to what the conformance tests
read, so that they run from a clone of this repository alone.

Usage: python3 spec/extract.py PATH/TO/spec3.json [OUTPUT]
OUTPUT defaults to stripe-subset.json beside this script.

Kept: `openapi` and `info` as they are; under `paths`, the operations the emulator serves (the
method and path pairs of `Op::route` in src/schema.rs, read from that file so the two cannot
drift); under `components.schemas`, every schema those operations or the object names below
reach through `$ref`, followed transitively. Everything kept is copied unchanged, so the subset
answers each look-up the tests make exactly as the full description does. Keys are sorted so that
a rerun on the same input writes the same bytes.
"""

import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCHEMA_RS = HERE.parent / "src" / "schema.rs"
DEFAULT_OUTPUT = HERE / "stripe-subset.json"

# The `object` values of what the emulator returns; tests/it/conformance.rs looks each up by
# name in components.schemas (a list object is checked without a schema).
OBJECT_SCHEMAS = [
    "billing_portal.session",
    "charge",
    "checkout.session",
    "coupon",
    "customer",
    "event",
    "invoice",
    "item",
    "payment_intent",
    "payment_method",
    "price",
    "product",
    "promotion_code",
    "refund",
    "subscription",
    "webhook_endpoint",
]

ROUTE = re.compile(r'=>\s*\(\s*"(get|post|delete)"\s*,\s*"(/v1/[^"]*)"\s*\)')
REF_PREFIX = "#/components/schemas/"


def routes():
    """The (method, path) pairs of `Op::route`, in the order they appear there."""
    found = ROUTE.findall(SCHEMA_RS.read_text(encoding="utf-8"))
    if not found:
        sys.exit(f"no routes found in {SCHEMA_RS}")
    return found


def refs(node):
    """Every schema name a `$ref` anywhere inside `node` points at."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            if not ref.startswith(REF_PREFIX):
                sys.exit(f"unexpected $ref {ref}")
            yield ref[len(REF_PREFIX) :]
        for value in node.values():
            yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


def subset(spec):
    paths = {}
    for method, path in routes():
        operation = spec["paths"].get(path, {}).get(method)
        if operation is None:
            sys.exit(f"{method} {path} is not in the description")
        paths.setdefault(path, {})[method] = operation

    all_schemas = spec["components"]["schemas"]
    kept = {}
    pending = list(OBJECT_SCHEMAS) + list(refs(paths))
    while pending:
        name = pending.pop()
        if name in kept:
            continue
        if name not in all_schemas:
            sys.exit(f"no schema {name} in the description")
        kept[name] = all_schemas[name]
        pending.extend(refs(kept[name]))

    return {
        "openapi": spec["openapi"],
        "info": spec["info"],
        "paths": paths,
        "components": {"schemas": kept},
    }


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    source = Path(sys.argv[1])
    output = Path(sys.argv[2]) if len(sys.argv) == 3 else DEFAULT_OUTPUT
    spec = json.loads(source.read_text(encoding="utf-8"))
    reduced = subset(spec)
    text = json.dumps(reduced, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    output.write_text(text, encoding="utf-8")
    print(
        f"{output}: {len(reduced['paths'])} paths, "
        f"{sum(len(m) for m in reduced['paths'].values())} operations, "
        f"{len(reduced['components']['schemas'])} schemas, {len(text.encode())} bytes"
    )


if __name__ == "__main__":
    main()
