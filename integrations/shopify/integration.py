"""Registry entry: Shopify is enabled when SHOPIFY_STORES has a store with credentials."""

from __future__ import annotations

from typing import TYPE_CHECKING

from integrations.runtime.registry import CheckResult, Integration, register

if TYPE_CHECKING:
    from bot.hub import Hub
    from bot.settings import Settings

HOW_TO = (
    "Defina SHOPIFY_STORES com um JSON, uma entrada por loja: "
    '`{"br": {"shop_url": "minha-loja.myshopify.com", "access_token": "shpat_…"}}` '
    "(ou `client_id` + `client_secret` do app, que geram um token de 24 h renovado sozinho). "
    "Escopos: read_orders, write_orders, read_customers e read_all_orders (períodos acima de "
    "60 dias)."
)


def is_configured(settings: Settings) -> bool:
    return any(store.has_credentials() for store in settings.shopify_stores.values())


def config_errors(settings: Settings) -> list[str]:
    errors: list[str] = []
    for name, store in settings.shopify_stores.items():
        if store.client_id is not None and store.client_secret is None:
            errors.append(f"loja {name}: client_id sem client_secret")
        elif not store.has_credentials():
            errors.append(f"loja {name}: falta access_token ou o par client_id + client_secret")
        if not store.shop_url.endswith(".myshopify.com") and store.api_base_url is None:
            errors.append(f"loja {name}: shop_url deve terminar em .myshopify.com")
    return errors


def health_check(hub: Hub) -> CheckResult:
    from integrations.runtime.errors import IntegrationError
    from integrations.shopify.client import ShopifyError
    from integrations.shopify.service import client_for, configured_stores

    problems: list[str] = []
    stores = configured_stores(hub)
    for name in sorted(stores):
        try:
            client_for(hub, name).shop_info()
        except (IntegrationError, ShopifyError) as exc:
            problems.append(f"{name}: {getattr(exc, 'message', str(exc))}")
    if not problems:
        return CheckResult("pass", f"{len(stores)} loja(s) respondendo")
    if len(problems) == len(stores):
        return CheckResult("fail", "; ".join(problems))
    return CheckResult("warn", "; ".join(problems))


register(
    Integration(
        name="shopify",
        display_name="Shopify",
        is_configured=is_configured,
        config_errors=config_errors,
        how_to_configure=HOW_TO,
        health_check=health_check,
        settings_fields=(
            "shopify_stores",
            "shopify_duplicate_window_days",
            "shopify_cancel_tag",
            "shopify_notify_customer",
            "shopify_bulk_threshold_days",
        ),
    )
)
