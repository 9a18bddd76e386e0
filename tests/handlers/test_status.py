"""`/hub status` rows: the runtime's verdict plus the 24 h figures, in pt-BR."""

from __future__ import annotations

from handlers.status import HealthRow, stats_line, status_blocks
from integrations.runtime.health import IntegrationStats


def _stats(**values: object) -> IntegrationStats:
    return IntegrationStats(integration="shopify", window_seconds=86400, **values)  # type: ignore[arg-type]


def test_stats_line_shows_calls_success_rate_and_percentiles_the_brazilian_way() -> None:
    stats = _stats(calls=120, success_rate=0.9917, p50_ms=210.0, p95_ms=800.0, p99_ms=1304.0)
    assert stats_line(stats) == (
        "24 h: 120 chamadas · 99,2% de sucesso · p50 0,21 s · p95 0,80 s · p99 1,30 s"
    )
    assert stats_line(_stats(calls=1, success_rate=1.0, p50_ms=50.0)) == (
        "24 h: 1 chamada · 100,0% de sucesso · p50 0,05 s"
    )
    assert stats_line(_stats()) == ""  # no calls, no figures


def test_status_blocks_show_figures_for_healthy_and_reasons_first_for_others() -> None:
    rows = [
        HealthRow(
            "shopify", "Shopify", "pass", "120 chamadas, sem problemas", "24 h: 120 chamadas"
        ),
        HealthRow("openai", "OpenAI", "warn", "latência p95 9.0s (> 5s)", "24 h: 3 chamadas"),
        HealthRow("claude", "Claude", "not_configured", "Defina ANTHROPIC_API_KEY"),
    ]
    text, blocks = status_blocks(rows)
    lines = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    assert lines == [
        ":large_green_circle: *Shopify* — funcionando\n24 h: 120 chamadas",
        ":large_yellow_circle: *OpenAI* — instável\nlatência p95 9.0s (> 5s)\n24 h: 3 chamadas",
        ":white_circle: *Claude* — não configurada\nDefina ANTHROPIC_API_KEY",
    ]
    assert blocks[-1]["elements"][0]["text"] == "Nenhuma integração com falha."
    assert text.startswith("Status das integrações:\n:large_green_circle: *Shopify*")
