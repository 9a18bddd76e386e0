from __future__ import annotations

import pytest

from integrations.shopify.phones import normalize, suffix


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        # Croatia: the case the digits-only code missed (+385 91… vs 091…)
        ("+385 91 234 5678", "HR", "+385912345678"),
        ("091 234 5678", "HR", "+385912345678"),
        ("00385 91 234 5678", "HR", "+385912345678"),
        # Mexico: +52 1 mobile prefix, 044/045 and 01 of the old dialling plan
        ("+52 1 55 1234 5678", "MX", "+525512345678"),
        ("+52 55 1234 5678", "MX", "+525512345678"),
        ("044 55 1234 5678", "MX", "+525512345678"),
        ("045 55 1234 5678", "MX", "+525512345678"),
        ("01 55 1234 5678", "MX", "+525512345678"),
        ("55 1234 5678", "MX", "+525512345678"),
        # Chile: leading 0 before the mobile 9
        ("09 8765 4321", "CL", "+56987654321"),
        ("+56 9 8765 4321", "CL", "+56987654321"),
        # Colombia: leading 0 / 03
        ("0 300 123 4567", "CO", "+573001234567"),
        ("03 300 123 4567", "CO", "+573001234567"),
        ("+57 300 123 4567", "CO", "+573001234567"),
        # Brazil, Spain: ordinary formats
        ("(11) 98765-4321", "BR", "+5511987654321"),
        ("+55 11 98765 4321", "BR", "+5511987654321"),
        ("612 34 56 78", "ES", "+34612345678"),
    ],
)
def test_country_variants_normalise_to_one_e164(raw: str, country: str, expected: str) -> None:
    assert normalize(raw, country) == expected


def test_the_default_region_comes_from_the_shipping_country() -> None:
    assert normalize("91 234 5678", "HR") == "+385912345678"
    assert normalize("91 234 5678", "BR") != "+385912345678"


@pytest.mark.parametrize("raw", ["", "   ", "abc", "123", None])
def test_garbage_is_not_a_phone(raw: str | None) -> None:
    assert normalize(raw, "BR") is None


def test_suffix_is_the_last_nine_digits() -> None:
    assert suffix("+55 (11) 98765-4321") == "987654321"
    assert suffix("12345") is None
