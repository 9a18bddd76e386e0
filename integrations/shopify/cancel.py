"""Cancelling duplicate orders: validate, describe and execute (behind a confirmation).

Execution per order: claim it in the ledger (the primary key makes a cancel single-use across
double clicks, replays and instances) → re-read the order and the kept order (skip if the
duplicate was cancelled or processed meanwhile, or if the kept order is gone) → `orderCancel`
(reason OTHER, restock, notifyCustomer from settings, staff note naming the kept order and the
Slack user) → poll the job until done → tag it → audit every step. Failures are per order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from bot.db import session_scope
from bot.security.confirmations import ExecutionContext, ExecutionResult
from integrations.runtime.errors import IntegrationError
from integrations.shopify.client import ShopifyError
from integrations.shopify.duplicates import Finding, is_processed, processed_matcher
from integrations.shopify.models import ShopifyCancellation
from integrations.shopify.service import StoreError, client_for, display_name, resolve_stores

if TYPE_CHECKING:
    from bot.hub import Hub

KIND = "shopify.cancel_duplicates"
MAX_ORDERS = 100
JOB_POLL_SECONDS = 1.0
JOB_POLL_ATTEMPTS = 30
STALE_CLAIM = timedelta(minutes=15)


class CancelArgsError(ValueError):
    """Invalid cancel arguments (pt-BR message)."""


def dedupe_key(store: str, order_id: str) -> str:
    """Pending-card key of one order's cancel: one card waiting per store + order."""
    return f"shopify.cancel:{store}:{order_id}"


def cancelled_by(hub: Hub, store: str, order_ids: list[str]) -> dict[str, str | None]:
    """Which of `order_ids` the ledger shows as cancelled by the hub, and who confirmed each."""
    if not order_ids:
        return {}
    query = select(col(ShopifyCancellation.order_id), col(ShopifyCancellation.requested_by)).where(
        col(ShopifyCancellation.order_id).in_(order_ids),
        col(ShopifyCancellation.store) == store,
        col(ShopifyCancellation.status) == "cancelled",
    )
    with session_scope(hub.engine) as session:
        return {row[0]: row[1] for row in session.execute(query).all()}


def cancel_items(findings: list[Finding]) -> list[dict[str, str]]:
    """Cancel arguments for every duplicate of `findings` (each order once)."""
    items: list[dict[str, str]] = []
    seen: set[str] = set()
    for f in findings:
        for d in f.duplicates:
            if d.id in seen:
                continue
            seen.add(d.id)
            items.append(
                {
                    "id": d.id,
                    "name": d.name,
                    "kept_id": f.kept.id,
                    "kept_name": f.kept.name,
                    "confidence": f.confidence,
                }
            )
    return items


def validate_args(hub: Hub, args: dict[str, Any]) -> dict[str, Any]:
    try:
        (store,) = resolve_stores(hub, str(args.get("store") or ""))
    except (StoreError, ValueError) as exc:
        raise CancelArgsError(str(exc) or "Informe uma loja.") from exc
    orders = args.get("orders")
    if not isinstance(orders, list) or not orders:
        raise CancelArgsError("Nenhum pedido para cancelar.")
    if len(orders) > MAX_ORDERS:
        raise CancelArgsError(f"No máximo {MAX_ORDERS} pedidos por confirmação.")
    clean: list[dict[str, str]] = []
    seen: set[str] = set()
    for item in orders:
        if not isinstance(item, dict) or not str(item.get("id", "")).startswith(
            "gid://shopify/Order/"
        ):
            raise CancelArgsError("Pedido inválido: use o id (GID) do pedido na Shopify.")
        if not str(item.get("kept_id", "")).startswith("gid://shopify/Order/"):
            raise CancelArgsError("Cada pedido precisa do pedido mantido (kept_id).")
        if item["id"] == item["kept_id"]:
            raise CancelArgsError("O pedido mantido não pode ser cancelado.")
        if item["id"] in seen:
            continue
        seen.add(item["id"])
        clean.append(
            {
                "id": str(item["id"]),
                "name": str(item.get("name") or item["id"].rsplit("/", 1)[-1]),
                "kept_id": str(item["kept_id"]),
                "kept_name": str(item.get("kept_name") or item["kept_id"].rsplit("/", 1)[-1]),
                "confidence": "possible" if item.get("confidence") == "possible" else "certain",
            }
        )
    if len(clean) > 1 and any(o["confidence"] == "possible" for o in clean):
        raise CancelArgsError(
            "Pedidos com correspondência só nos 9 últimos dígitos do telefone (possíveis) "
            "não podem ser cancelados em lote: confira e cancele um por vez."
        )
    return {"store": store, "orders": clean, "dry_run": bool(args.get("dry_run"))}


def describe(hub: Hub, args: dict[str, Any]) -> str:
    verb = "Simular o cancelamento de" if args.get("dry_run") else "Cancelar"
    lines = [
        f"{verb} {len(args['orders'])} pedido(s) duplicado(s) na loja "
        f"{display_name(hub, args['store'])}:"
    ]
    for o in args["orders"][:20]:
        flag = " (possível)" if o["confidence"] == "possible" else ""
        lines.append(f"• {o['name']} — duplicado de {o['kept_name']}{flag}")
    if len(args["orders"]) > 20:
        lines.append(f"… e mais {len(args['orders']) - 20}")
    if not args.get("dry_run"):
        lines.append(
            "O cancelamento é irreversível (motivo OTHER, estoque devolvido, cliente "
            + ("notificado" if hub.settings.shopify_notify_customer else "não notificado")
            + ")."
        )
    return "\n".join(lines)


@dataclass
class OrderOutcome:
    name: str
    status: str  # cancelled | would_cancel | skipped | failed | pending
    detail: str


def staff_note(kept_name: str, kept_id: str, user_id: str) -> str:
    note = (
        f"Duplicado do pedido {kept_name} ({kept_id}). Cancelado pelo Chegou Hub, "
        f"confirmado por Slack {user_id}."
    )
    return note[:255]


def _claim(hub: Hub, store: str, order: dict[str, str], ctx: ExecutionContext) -> str | None:
    """Claim the order in the ledger; None when claimed, else why it is skipped."""
    now = hub.clock.now()
    try:
        with session_scope(hub.engine) as session:
            session.add(
                ShopifyCancellation(
                    order_id=order["id"],
                    store=store,
                    order_name=order["name"],
                    kept_order_id=order["kept_id"],
                    status="claimed",
                    action_id=ctx.action_id,
                    requested_by=ctx.confirmer_id,
                    created_at=now,
                    updated_at=now,
                )
            )
        return None
    except IntegrityError:
        pass
    with session_scope(hub.engine) as session:
        row = session.get(ShopifyCancellation, order["id"])
        status = row.status if row else "?"
        # A claim left behind by a crashed worker (or a job Shopify never finished) may be
        # taken over after a while; the re-read then sees what really happened to the order.
        stale = (
            row is not None
            and status in ("claimed", "cancel_requested")
            and row.updated_at < now - STALE_CLAIM
        )
        if row is not None and (status in ("failed", "skipped") or stale):
            result = session.execute(
                update(ShopifyCancellation)
                .where(
                    ShopifyCancellation.order_id == order["id"],  # type: ignore[arg-type]
                    ShopifyCancellation.status == status,  # type: ignore[arg-type]
                    ShopifyCancellation.updated_at == row.updated_at,  # type: ignore[arg-type]
                )
                .values(
                    status="claimed",
                    action_id=ctx.action_id,
                    # Whoever confirms this attempt is who the ledger (and the report) names.
                    requested_by=ctx.confirmer_id,
                    error=None,
                    updated_at=now,
                )
            )
            if result.rowcount == 1:  # type: ignore[attr-defined]
                return None
    if status == "cancelled":
        return "já foi cancelado pelo hub antes"
    return "outro cancelamento deste pedido está em andamento"


def _mark(hub: Hub, order_id: str, status: str, **values: Any) -> None:
    with session_scope(hub.engine) as session:
        row = session.get(ShopifyCancellation, order_id)
        if row is None:
            return
        row.status = status
        for key, value in values.items():
            setattr(row, key, value)
        row.updated_at = hub.clock.now()
        session.add(row)


def execute(hub: Hub, ctx: ExecutionContext, args: dict[str, Any]) -> ExecutionResult:
    store = args["store"]
    dry_run = bool(args.get("dry_run"))
    cfg = hub.settings.shopify_stores[store]
    processed = processed_matcher(cfg.processed_tags)
    client = client_for(hub, store)
    outcomes: list[OrderOutcome] = []
    for order in args["orders"]:
        name = order["name"]
        ctx.audit("shopify.cancel.start", {"order_id": order["id"], "dry_run": dry_run})
        if not dry_run:
            why = _claim(hub, store, order, ctx)
            if why is not None:
                ctx.audit("shopify.cancel.skipped", {"order_id": order["id"], "reason": why})
                outcomes.append(OrderOutcome(name, "skipped", why))
                continue
        try:
            outcome = _cancel_one(hub, ctx, client, order, processed, dry_run)
        except (IntegrationError, ShopifyError) as exc:
            message = getattr(exc, "message", str(exc))
            outcome = OrderOutcome(name, "failed", f"erro ao falar com a Shopify ({message})")
            ctx.audit("shopify.cancel.error", {"order_id": order["id"], "error": str(exc)})
        if not dry_run:
            status = {
                "cancelled": "cancelled",
                "skipped": "skipped",
                "failed": "failed",
                "pending": "cancel_requested",
            }[outcome.status]
            _mark(
                hub,
                order["id"],
                status,
                error=outcome.detail[:500] if status != "cancelled" else None,
            )
        outcomes.append(outcome)
    return _result(hub, store, outcomes, dry_run)


def _cancel_one(
    hub: Hub,
    ctx: ExecutionContext,
    client: Any,
    order: dict[str, str],
    processed: frozenset[str],
    dry_run: bool,
) -> OrderOutcome:
    name = order["name"]
    current = client.get_order(order["id"])
    ctx.audit("shopify.cancel.reread", {"order_id": order["id"], "found": current is not None})
    if current is None:
        return OrderOutcome(name, "failed", "pedido não encontrado na Shopify")
    if current.cancelled:
        return OrderOutcome(name, "skipped", "já estava cancelado na Shopify")
    if is_processed(current, processed):
        return OrderOutcome(name, "skipped", "foi processado depois da prévia (tem tag de envio)")
    kept = client.get_order(order["kept_id"])
    if kept is None or kept.cancelled:
        return OrderOutcome(
            name, "skipped", f"o pedido mantido {order['kept_name']} foi cancelado ou sumiu"
        )
    if dry_run:
        return OrderOutcome(name, "would_cancel", f"seria cancelado (mantém {order['kept_name']})")
    note = staff_note(order["kept_name"], order["kept_id"], ctx.confirmer_id)
    result = client.cancel_order(
        order["id"], staff_note=note, notify=hub.settings.shopify_notify_customer
    )
    ctx.audit(
        "shopify.cancel.requested",
        {"order_id": order["id"], "job_id": result.job_id, "errors": result.errors},
    )
    if result.errors or result.job_id is None:
        return OrderOutcome(name, "failed", "; ".join(result.errors) or "a Shopify não criou o job")
    _mark(hub, order["id"], "cancel_requested", job_id=result.job_id)
    done = False
    for _ in range(JOB_POLL_ATTEMPTS):
        if client.job_done(result.job_id):
            done = True
            break
        hub.clock.sleep(JOB_POLL_SECONDS)
    ctx.audit("shopify.cancel.job", {"order_id": order["id"], "done": done})
    if not done:
        return OrderOutcome(
            name, "pending", "cancelamento pedido; a Shopify ainda está processando"
        )
    after = client.get_order(order["id"])
    if after is None or not after.cancelled:
        return OrderOutcome(name, "failed", "o job terminou mas o pedido não aparece cancelado")
    tag = hub.settings.shopify_cancel_tag
    tag_errors = client.add_tags(order["id"], [tag]) if tag else []
    ctx.audit("shopify.cancel.tagged", {"order_id": order["id"], "tag": tag, "errors": tag_errors})
    detail = f"cancelado (mantido {order['kept_name']})"
    if tag_errors:
        detail += f"; tag não aplicada: {'; '.join(tag_errors)}"
    return OrderOutcome(name, "cancelled", detail)


_ICONS = {
    "cancelled": ":white_check_mark:",
    "would_cancel": ":mag:",
    "skipped": ":fast_forward:",
    "failed": ":x:",
    "pending": ":hourglass:",
}


def _result(hub: Hub, store: str, outcomes: list[OrderOutcome], dry_run: bool) -> ExecutionResult:
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.status] = counts.get(o.status, 0) + 1
    if dry_run:
        head = (
            f"Simulação na loja {display_name(hub, store)}: "
            f"{counts.get('would_cancel', 0)} seriam cancelados, {counts.get('skipped', 0)} "
            f"pulados, {counts.get('failed', 0)} com erro. Nada foi alterado."
        )
    else:
        head = (
            f"Loja {display_name(hub, store)}: {counts.get('cancelled', 0)} cancelado(s), "
            f"{counts.get('skipped', 0)} pulado(s), {counts.get('failed', 0)} com falha"
            + (f", {counts['pending']} ainda processando" if counts.get("pending") else "")
            + "."
        )
    lines = [head] + [f"{_ICONS[o.status]} {o.name}: {o.detail}" for o in outcomes]
    text = "\n".join(lines)
    return ExecutionResult(
        text=text,
        blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": text[:2900]}}],
        ok=not counts.get("failed"),
        details={"outcomes": [o.__dict__ for o in outcomes], "counts": counts},
    )
