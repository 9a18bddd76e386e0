"""Structured key=value logging with secret redaction.

Two layers keep secrets out of every log line:

* `REDACTOR` knows every secret the process holds (the runtime registers each client's
  `secrets=` and every `SecretStr` in Settings) plus well-known token shapes (Slack `xox…`,
  OpenAI/Anthropic `sk-…`, Shopify `shpat_…`), and scrubs them from any text, also in their
  URL-encoded forms (a token in a query string is percent-encoded).
* `install_redaction()` wraps the log record factory, so every record any logger creates (ours,
  httpx's request lines with full URLs, uvicorn's, pytest's caplog) is scrubbed once, at creation:
  message, arguments and the formatted traceback. `RedactingFilter` does the same as a handler
  filter, for handlers configured elsewhere. `configure_logging()` installs both and a
  key=value formatter.

Log lines look like::

    ts=2026-11-29T12:00:00.123Z level=WARNING logger=integrations.runtime.client msg="retrying"
    integration=shopify operation=orders.page attempt=2 category=server
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, TextIO
from urllib.parse import quote, quote_plus

__all__ = [
    "REDACTED",
    "REDACTOR",
    "KeyValueFormatter",
    "RedactingFilter",
    "Redactor",
    "configure_logging",
    "install_redaction",
    "kv",
]

REDACTED = "***"
# Secrets shorter than this are not registered: scrubbing "abc" everywhere would mangle logs.
MIN_SECRET_LENGTH = 6
# Well-known credential shapes, scrubbed even if nobody registered them.
# Slack's response_url and webhook URLs carry their credential in the path (the host stays).
_TOKEN_SHAPES = re.compile(
    r"\b(?:xox[abposr]-[A-Za-z0-9-]{8,}|xapp-[A-Za-z0-9-]{8,}"
    r"|sk-(?:ant-|admin-|proj-)?[A-Za-z0-9_-]{16,}|shp(?:at|ss|ca|pa)_[A-Fa-f0-9]{16,}"
    r"|(?<=hooks\.slack\.com/)(?:commands|services|actions|workflows|triggers)/[\w/-]+)"
)


class Redactor:
    """Replaces registered secrets (and well-known token shapes) with `***` in text."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None

    def add(self, *secrets: str | None) -> None:
        forms: set[str] = set()
        for secret in secrets:
            if not secret or len(secret) < MIN_SECRET_LENGTH:
                continue
            forms.update({secret, quote(secret, safe=""), quote_plus(secret)})
        with self._lock:
            if forms <= self._secrets:
                return
            self._secrets |= forms
            ordered = sorted(self._secrets, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(s) for s in ordered))

    def add_from(self, value: Any) -> None:
        """Register every pydantic `SecretStr` found in `value` (settings, nested models)."""
        self.add(*_find_secrets(value))

    def __contains__(self, secret: str) -> bool:
        return secret in self._secrets

    def scrub(self, text: str) -> str:
        pattern = self._pattern
        if pattern is not None:
            text = pattern.sub(REDACTED, text)
        return _TOKEN_SHAPES.sub(REDACTED, text)

    def scrub_value(self, value: Any) -> Any:
        """Scrub strings inside JSON-like values (dicts, lists), keeping their shape."""
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, dict):
            return {self.scrub_value(k): self.scrub_value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self.scrub_value(v) for v in value)
        if isinstance(value, bytes):
            return self.scrub(value.decode("utf-8", "replace"))
        return value


def _find_secrets(value: Any, depth: int = 0) -> Iterable[str]:
    from pydantic import BaseModel, SecretStr

    if depth > 6:
        return
    if isinstance(value, SecretStr):
        yield value.get_secret_value()
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _find_secrets(getattr(value, name, None), depth + 1)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _find_secrets(item, depth + 1)
    elif isinstance(value, list | tuple | set):
        for item in value:
            yield from _find_secrets(item, depth + 1)


REDACTOR = Redactor()


def _scrub_arg(value: Any, redactor: Redactor) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    text = str(value)
    scrubbed = redactor.scrub(text)
    if scrubbed != text:
        return scrubbed
    if not isinstance(value, str):
        shown = repr(value)
        scrubbed = redactor.scrub(shown)
        if scrubbed != shown:
            return scrubbed
    return value


def _scrub_record(record: logging.LogRecord, redactor: Redactor) -> None:
    """Scrub in place, keeping the shape of `args` (formatters such as uvicorn's access log
    unpack them): only arguments that contain a secret are replaced by their scrubbed text."""
    if getattr(record, "_redacted", False):
        return
    if isinstance(record.msg, str):
        record.msg = redactor.scrub(record.msg)
    elif record.msg is not None:
        record.msg = _scrub_arg(record.msg, redactor)
    args = record.args
    if isinstance(args, tuple):
        record.args = tuple(_scrub_arg(a, redactor) for a in args)
    elif isinstance(args, Mapping):
        record.args = {k: _scrub_arg(v, redactor) for k, v in args.items()}
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redactor.scrub(record.exc_text)
    if record.stack_info:
        record.stack_info = redactor.scrub(record.stack_info)
    setattr(record, "_redacted", True)  # noqa: B010


class RedactingFilter(logging.Filter):
    """A handler/logger filter that scrubs secrets from the record in place."""

    def __init__(self, redactor: Redactor = REDACTOR) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        _scrub_record(record, self.redactor)
        return True


_install_lock = threading.Lock()
_installed = False


def install_redaction(redactor: Redactor = REDACTOR) -> None:
    """Scrub every log record at creation (idempotent; the runtime calls it)."""
    global _installed
    with _install_lock:
        if _installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            _scrub_record(record, redactor)
            return record

        logging.setLogRecordFactory(factory)
        _installed = True


_RESERVED = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "_redacted"}


def _quote(value: Any) -> str:
    text = str(value)
    if text == "" or any(c in text for c in ' ="\n\t'):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    return text


def kv(**fields: Any) -> str:
    """Render fields as `key=value` pairs (for messages built by hand)."""
    return " ".join(f"{k}={_quote(v)}" for k, v in fields.items() if v is not None)


class KeyValueFormatter(logging.Formatter):
    """`ts=… level=… logger=… msg="…"` plus any `extra=` fields, then the traceback."""

    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
        parts = [
            f"ts={ts}Z",
            f"level={record.levelname}",
            f"logger={record.name}",
            f"msg={_quote(record.getMessage())}",
        ]
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                parts.append(f"{key}={_quote(REDACTOR.scrub(str(value)))}")
        line = " ".join(parts)
        if record.exc_info and not record.exc_text:
            record.exc_text = REDACTOR.scrub(self.formatException(record.exc_info))
        if record.exc_text:
            line += "\n" + record.exc_text
        return line


def configure_logging(level: str | int = "INFO", stream: TextIO | None = None) -> None:
    """Root logging for the process: key=value lines on stderr, secrets scrubbed."""
    install_redaction()
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(KeyValueFormatter())
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_chegou_hub", False):
            root.removeHandler(old)
    handler._chegou_hub = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level if isinstance(level, int) else level.upper())
    # httpx logs every request URL at INFO; our runtime logs calls itself, without queries.
    for noisy in ("httpx", "httpcore", "hpack"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
