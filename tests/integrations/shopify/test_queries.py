"""Every document the hub sends is valid against the published Admin schema (2026-04)."""

from __future__ import annotations

import pytest
from graphql import NoDeprecatedCustomRule, parse, validate

from integrations.shopify import queries
from integrations.shopify.schema import SchemaNotFound, load_schema, validation_errors


@pytest.mark.parametrize("name", sorted(queries.ALL_DOCUMENTS))
def test_document_is_valid_and_uses_no_deprecated_fields(name: str) -> None:
    schema = load_schema("2026-04")
    document = queries.ALL_DOCUMENTS[name]
    assert validation_errors(schema, document) == []
    deprecated = validate(schema, parse(document), [NoDeprecatedCustomRule])
    assert [e.message for e in deprecated] == []


def test_bulk_inner_query_is_valid_with_quotes_in_the_search() -> None:
    schema = load_schema("2026-04")
    inner = queries.bulk_orders_query("created_at:>='2026-01-01T00:00:00Z' tag_not:\"x\"")
    assert validation_errors(schema, inner) == []
    assert validate(schema, parse(inner), [NoDeprecatedCustomRule]) == []


def test_schema_is_loaded_once_and_a_missing_file_is_a_clear_error(tmp_path: object) -> None:
    assert load_schema("2026-04") is load_schema("2026-04")
    with pytest.raises(SchemaNotFound, match="SHOPIFY_SPECS_DIR"):
        load_schema("1999-01")


def test_a_wrong_field_is_rejected() -> None:
    schema = load_schema("2026-04")
    errors = validation_errors(schema, "{ orders(first: 1) { nodes { browserIp } } }")
    assert errors and "browserIp" in errors[0]
