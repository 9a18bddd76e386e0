"""A canary secret planted everywhere a secret can travel never appears in any output."""

from __future__ import annotations

import io
import json
import logging
import traceback
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from bot.clock import FakeClock
from bot.hub import Hub
from bot.logging_setup import (
    REDACTOR,
    KeyValueFormatter,
    RedactingFilter,
    Redactor,
    configure_logging,
    kv,
)
from integrations.runtime import metrics
from integrations.runtime.errors import IntegrationError
from integrations.runtime.harness import Fault, SimulatorServer
from tests.conftest import make_settings

CANARY = "canary-7f3c1e9a-SECRET+/=value"  # '+', '/', '=' change under URL encoding
SETTINGS_CANARY = "sk-admin-canary0123456789abcdefXYZ"
STORE_CANARY = "shpat_c4nary00112233445566778899aabb"

log = logging.getLogger("tests.redaction")


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
    for name in ("httpx", "httpcore", "hpack"):
        logging.getLogger(name).setLevel(logging.NOTSET)


def test_canary_never_appears_in_logs_errors_or_rows(
    tmp_path: Path,
    sqlite_engine: Engine,
    fake_clock: FakeClock,
    sim: SimulatorServer,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = make_settings(
        tmp_path,
        openai_admin_api_key=SETTINGS_CANARY,
        shopify_stores={"loja1": {"shop_url": "loja1.myshopify.com", "access_token": STORE_CANARY}},
        retry_attempts=2,
    )
    hub = Hub.create(settings, engine=sqlite_engine, clock=fake_clock)
    stream = io.StringIO()
    configure_logging("DEBUG", stream=stream)
    logging.getLogger("httpx").setLevel(logging.DEBUG)  # httpx logs full URLs: worst case
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    try:
        client = hub.runtime.client(
            "canary",
            sim.base_url,
            headers={"Authorization": f"Bearer {CANARY}", "X-Api-Key": CANARY},
            secrets=[CANARY],
        )
        # 1. the secret in a URL query (EcomHub-style `?token=`), successful call
        client.json("GET", "/items", operation="items.list", params={"token": CANARY})
        # 2. a vendor echoing the credential and the query in an error body (500, 401, 422)
        for status in (500, 401, 422):
            sim.faults.clear()
            with pytest.raises(IntegrationError) as info:
                client.json(
                    "GET",
                    "/echo-error",
                    operation="echo",
                    params={"status": status, "token": CANARY},
                    retry=False,
                )
            exc = info.value
            texts += [str(exc), repr(exc), exc.message, json.dumps(exc.body)]
            texts.append("".join(traceback.format_exception(exc)))
            log.error("call failed: %s (body=%s)", exc, exc.body, exc_info=exc)
        # 3. a dropped connection and a timeout with the secret in the query, retried
        sim.faults.add("/items", Fault(reset=True))
        with pytest.raises(IntegrationError) as info:
            client.json("GET", "/items", operation="items.list", params={"key": CANARY})
        texts.append("".join(traceback.format_exception(info.value)))
        sim.faults.clear()
        slow = hub.runtime.client(
            "canary", sim.base_url, headers={"Authorization": CANARY}, timeout=httpx.Timeout(0.1)
        )
        sim.faults.add("/items", Fault(latency=0.4))
        with pytest.raises(IntegrationError) as info:
            slow.json("GET", "/items", operation="items.list", params={"key": CANARY})
        texts.append("".join(traceback.format_exception(info.value)))
        # 4. careless code logging secrets from settings and a raw URL
        log.warning("openai key=%s", settings.openai_admin_api_key.get_secret_value())  # type: ignore[union-attr]
        log.info("store token " + STORE_CANARY)
        log.error("url=%s", f"{sim.base_url}/items?token={httpx.QueryParams({'t': CANARY})}")
        print(f"printed through a logger-less path: {REDACTOR.scrub(CANARY)}")
        hub.runtime.flush()
        with sqlite_engine.connect() as conn:
            rows = [
                " ".join(map(str, row)) for row in conn.execute(text("SELECT * FROM api_calls"))
            ]
        assert len(rows) >= 6
        assert any("authorization" in row for row in rows)  # the echoed body did get stored
    finally:
        hub.close()

    captured = capsys.readouterr()
    outputs = {
        "caplog": caplog.text,
        "caplog.messages": "\n".join(caplog.messages),
        "stream": stream.getvalue(),
        "stdout": captured.out,
        "stderr": captured.err,
        "exceptions": "\n".join(texts),
        "db": "\n".join(rows),
        "records": "\n".join(map(str, hub.runtime.records)),
        "metrics": metrics.render().decode(),
    }
    assert "HTTP Request" in caplog.text  # httpx did log the URLs...
    assert "***" in caplog.text  # ...scrubbed
    encoded = [str(httpx.QueryParams({"t": CANARY})).split("=", 1)[1]]
    for name, output in outputs.items():
        for secret in (CANARY, SETTINGS_CANARY, STORE_CANARY, *encoded):
            assert secret not in output, f"secret leaked into {name}"


def test_redactor_forms_and_token_shapes() -> None:
    r = Redactor()
    r.add("abc", None, "", "my secret/value")
    assert "abc" not in r  # too short to register
    assert r.scrub("x my secret/value y") == "x *** y"
    assert r.scrub("q=my%20secret%2Fvalue") == "q=***"
    assert r.scrub("q=my+secret%2Fvalue") == "q=***"
    assert r.scrub("token xoxb-1234-5678-abcdefgh done") == "token *** done"
    assert r.scrub("sk-ant-admin01-abcdefghijklmnop0123") == "***"
    assert r.scrub("shpat_0123456789abcdef0123456789abcdef") == "***"
    # a command's response_url is a credential too (anyone holding it can answer as the app)
    url = "https://hooks.slack.com/commands/T0001/1234567890/AbCdEf0123456789"
    assert r.scrub(f"POST {url} failed") == "POST https://hooks.slack.com/*** failed"
    assert r.scrub_value({"a": ["my secret/value", 1], "b": None}) == {"a": ["***", 1], "b": None}


def test_filter_scrubs_records_from_elsewhere_and_kv_format() -> None:
    redactor = Redactor()
    redactor.add("hunter2hunter2")
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "pw=%s", ("hunter2hunter2",), None)
    assert RedactingFilter(redactor).filter(record)
    assert record.getMessage() == "pw=***"

    REDACTOR.add("extra-field-secret")
    rec = logging.makeLogRecord(
        {"msg": "called", "levelname": "INFO", "name": "n", "integration": "shopify"}
    )
    rec.__dict__["token"] = "extra-field-secret"
    line = KeyValueFormatter().format(rec)
    assert "msg=called" in line and "integration=shopify" in line and "token=***" in line
    assert "extra-field-secret" not in line
    assert kv(a=1, b="x y", c=None) == 'a=1 b="x y"'


def test_credential_headers_are_secrets_even_when_not_declared(
    rhub: Hub, sim: SimulatorServer
) -> None:
    token = "undeclared-token-42a7c0ffee"
    client = rhub.runtime.client(
        "shopify:loja9", sim.base_url, headers={"X-Shopify-Access-Token": token}
    )
    with pytest.raises(IntegrationError) as info:
        client.json("GET", "/echo-error", operation="x", params={"q": token}, retry=False)
    assert token not in str(info.value) and token not in json.dumps(info.value.body)
    bearer = "bearer-secret-9d8c7b6a5f"
    rhub.runtime.client("other", sim.base_url, headers={"Authorization": f"Bearer {bearer}"})
    assert REDACTOR.scrub(f"Authorization: Bearer {bearer}") == "Authorization: Bearer ***"


def test_configured_logging_writes_key_value_lines() -> None:
    stream = io.StringIO()
    configure_logging("INFO", stream=stream)
    logging.getLogger("integrations.demo").warning(
        "retrying call integration=%s", "shopify", extra={"attempt": 2}
    )
    line = stream.getvalue().strip()
    assert line.startswith("ts=")
    assert " level=WARNING logger=integrations.demo " in line
    assert 'msg="retrying call integration=shopify"' in line
    assert line.endswith("attempt=2")


def test_record_args_keep_their_shape_for_formatters_that_unpack_them() -> None:
    REDACTOR.add("access-log-secret-123")
    record = logging.getLogger("uvicorn.access").makeRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/hook?token=access-log-secret-123", "1.1", 200),
        None,
    )
    assert isinstance(record.args, tuple) and len(record.args) == 5
    assert record.args[2] == "/hook?token=***" and record.args[4] == 200
    assert record.getMessage() == '127.0.0.1:5000 - "GET /hook?token=*** HTTP/1.1" 200'
