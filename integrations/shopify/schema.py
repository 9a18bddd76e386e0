"""The Shopify Admin GraphQL schema, loaded once from the published introspection file.

The hub validates its own documents against it (tests) and the simulator validates every
incoming document against it. The file lives outside the repository (`../shared/specs` next to
the repo root by default); set SHOPIFY_SPECS_DIR (or `settings.shopify_specs_dir`) elsewhere.
"""

from __future__ import annotations

import gzip
import json
import os
import threading
from pathlib import Path
from typing import Any

from graphql import GraphQLError, GraphQLSchema, build_client_schema, parse, validate

REPO_ROOT = Path(__file__).resolve().parents[2]
# `../shared/specs` next to the repository; a git worktree one level deeper finds it too.
DEFAULT_SPECS_CANDIDATES = (
    REPO_ROOT.parent / "shared" / "specs",
    REPO_ROOT.parent.parent / "shared" / "specs",
)

_lock = threading.Lock()
_schemas: dict[Path, GraphQLSchema] = {}


class SchemaNotFound(RuntimeError):
    """The introspection file for an API version is missing."""


def specs_dir(override: str | os.PathLike[str] | None = None) -> Path:
    if override:
        return Path(override)
    env = os.environ.get("SHOPIFY_SPECS_DIR")
    if env:
        return Path(env)
    for candidate in DEFAULT_SPECS_CANDIDATES:
        if candidate.is_dir():
            return candidate
    return DEFAULT_SPECS_CANDIDATES[0]


def schema_path(version: str, directory: str | os.PathLike[str] | None = None) -> Path:
    return specs_dir(directory) / "shopify" / f"admin_{version}.json.gz"


def has_schema(version: str, directory: str | os.PathLike[str] | None = None) -> bool:
    return schema_path(version, directory).is_file()


def load_schema(version: str = "2026-04", directory: str | os.PathLike[str] | None = None) -> Any:
    """The GraphQLSchema of one Admin API version (cached per file)."""
    path = schema_path(version, directory).resolve()
    with _lock:
        cached = _schemas.get(path)
        if cached is not None:
            return cached
        if not path.is_file():
            raise SchemaNotFound(
                f"Shopify Admin schema for version {version} not found at {path}; "
                "set SHOPIFY_SPECS_DIR to the directory holding shopify/admin_<version>.json.gz"
            )
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            raw = json.load(fh)
        schema = build_client_schema(raw.get("data", raw))
        _schemas[path] = schema
        return schema


def validation_errors(schema: GraphQLSchema, document: str) -> list[str]:
    """Messages for a document that the schema rejects (syntax or validation)."""
    try:
        ast = parse(document)
    except GraphQLError as exc:
        return [exc.message]
    return [err.message for err in validate(schema, ast)]
