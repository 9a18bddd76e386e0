"""Phone normalisation per country: libphonenumber plus the fixes it does not do.

`normalize(raw, country)` gives the E.164 form when the number is possible for its region
(default region = shipping country), after country fixes:
- Mexico: drop the `1` after `+52` when 11 national digits follow; drop a leading `044`, `045`
  (mobile prefixes) or `01` (long distance) of the old national dialling plan.
- Chile: drop a leading `0` (`09 1234 5678`).
- Colombia: drop a leading `0` or `03` (old carrier/long-distance prefixes).
`suffix(raw)` (last 9 digits) is a fallback key for flagging only, never for automatic action.
"""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers

SUFFIX_DIGITS = 9


_NON_DIGITS = re.compile(r"\D+")


def digits_of(raw: str) -> str:
    return _NON_DIGITS.sub("", raw)


def suffix(raw: str | None) -> str | None:
    if not raw:
        return None
    digits = digits_of(raw)
    return digits[-SUFFIX_DIGITS:] if len(digits) >= SUFFIX_DIGITS else None


def _fix(raw: str, region: str | None) -> str:
    """Rewrite raw input into something libphonenumber reads correctly."""
    text = raw.strip()
    plus = text.startswith(("+", "00"))
    digits = digits_of(text)
    if text.startswith("00"):
        digits = digits[2:]
    if plus:
        if digits.startswith("52") and len(digits) == 13 and digits[2] == "1":
            return "+52" + digits[3:]
        if digits.startswith("56") and digits[2:3] == "0":
            return "+56" + digits[3:]
        if digits.startswith("57") and digits[2:3] == "0":
            rest = digits[2:]
            rest = rest[2:] if rest.startswith("03") and len(rest) == 12 else rest[1:]
            return "+57" + rest
        return "+" + digits
    if region == "MX":
        if len(digits) == 13 and digits.startswith(("044", "045")):
            return digits[3:]
        if len(digits) == 12 and digits.startswith("01"):
            return digits[2:]
        if len(digits) == 11 and digits.startswith("1"):
            return digits[1:]
        if len(digits) == 12 and digits.startswith("52"):
            return "+" + digits
        if len(digits) == 13 and digits.startswith("521"):
            return "+52" + digits[3:]
    elif region == "CL":
        if digits.startswith("0"):
            return digits[1:]
        if len(digits) == 11 and digits.startswith("56"):
            return "+" + digits
    elif region == "CO":
        if digits.startswith("03") and len(digits) == 12:
            return digits[2:]
        if digits.startswith("0"):
            return digits[1:]
        if len(digits) == 12 and digits.startswith("57"):
            return "+" + digits
    return digits


def normalize(raw: str | None, country: str | None) -> str | None:
    """E.164 (`+5511987654321`) or None when the number is not a possible number."""
    if not raw or not raw.strip():
        return None
    region = (country or "").upper() or None
    fixed = _fix(raw, region)
    if not fixed:
        return None
    return _e164(fixed, region if not fixed.startswith("+") else None)


# Keyed on the fixed text, not the raw one: the many ways people write one number
# ("(11) 98765-4321", "11 98765 4321", ...) usually fix to the same digits and cost one parse.
@lru_cache(maxsize=200_000)
def _e164(fixed: str, region: str | None) -> str | None:
    try:
        number = phonenumbers.parse(fixed, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
