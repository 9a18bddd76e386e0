"""`/hub duplicados` and `/hub ip`: Shopify duplicate orders (review → cancel) and suspicious IPs.

Views (Block Kit) live here and are shared with the scheduled reports (jobs/shopify_reports.py).
Cancelling goes through the confirmation cards (`shopify.cancel_duplicates`, operator role);
`shopify.simulate_cancel` is the "Simular" card (a dry run, read-only). A "Cancelar #…" click
never stacks a second card for an order that already has one waiting, and once a cancel ran the
findings message it came from shows "#1234 cancelado por @…" instead of that order's button.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.security import audit
from bot.security.confirmations import (
    ActionSpec,
    AlreadyPending,
    Executed,
    ExecutionContext,
    ExecutionResult,
    Origin,
    Refused,
    post_proposal,
    register_action,
)
from bot.security.models import PendingAction
from bot.security.roles import Role
from handlers.registry import UsageError, subcommand
from integrations.shopify import cancel
from integrations.shopify.cancel import cancel_items
from integrations.shopify.client import ShopifyError
from integrations.shopify.duplicates import DuplicateReport, Finding, OrderRef
from integrations.shopify.ips import IpEntry, IpReport
from integrations.shopify.service import (
    ALL_STORES,
    MAX_IP_DAYS,
    StoreError,
    display_name,
    duplicates_report,
    ip_lists,
    ips_report,
    resolve_stores,
    set_ip_list,
)

if TYPE_CHECKING:
    from bot.app import HubApp
    from bot.hub import Hub
    from handlers.registry import CommandContext

log = logging.getLogger(__name__)

SIMULATE_KIND = "shopify.simulate_cancel"
MAX_FINDINGS_SHOWN = 15
MAX_IPS_SHOWN = 12
MAX_DUP_DAYS = 90
LIST_VERBS = {
    "permitir": "allow",
    "observar": "watch",
    "resolver": "resolved",
    "remover": None,
}
LIST_LABELS = {"allow": "permitidos", "watch": "em observação", "resolved": "resolvidos"}
# Buttons in the findings / IP messages (action ids are unique within a message; the listeners
# match them by pattern). Slack allows 25 elements per actions block and 50 blocks per message.
DUP_CANCEL_PREFIX = "shopify.dup.cancel."
DUP_BLOCK_PREFIX = "shopify.dup."  # block ids: actions "shopify.dup.3", its context ".3.done"
DONE_SUFFIX = ".done"
IP_MOVE_PREFIX = "shopify.ip."
IP_BLOCK_PREFIX = "shopify.ip."
DUP_CANCEL_ACTION = re.compile(r"^shopify\.dup\.cancel\.\d+$")
IP_MOVE_ACTION = re.compile(r"^shopify\.ip\.(allow|watch|resolved|remove)\.\d+$")
MAX_CANCEL_BUTTONS = 5  # per finding; more duplicates → the text command / the bulk card
# chat.update rounds after a cancel: re-read the ledger after each write so that two cancels
# finishing at once (two cards, two instances) cannot leave a cancelled order's button behind.
REPORT_UPDATE_ROUNDS = 3
IP_LIST_KIND = "shopify.ip_list"
WATCH_MARK = " :eyes: em observação"
IP_BUTTONS = (
    ("allow", "Permitir"),
    ("watch", "Observar"),
    ("resolved", "Resolver"),
)


# --- confirmation specs -----------------------------------------------------------------------
def _validate(hub: Hub, args: dict[str, Any]) -> dict[str, Any]:
    try:
        return cancel.validate_args(hub, args)
    except cancel.CancelArgsError as exc:
        raise UsageError(str(exc)) from exc


def _validate_simulation(hub: Hub, args: dict[str, Any]) -> dict[str, Any]:
    return _validate(hub, {**args, "dry_run": True})


def _execute(hub: Hub, ctx: ExecutionContext, args: dict[str, Any]) -> ExecutionResult:
    return cancel.execute(hub, ctx, args)


def _after_cancel(hub: Hub, client: Any, done: Executed) -> None:
    # Late-bound: the view code it calls is defined further down.
    update_findings_after_cancel(hub, client, done)


register_action(
    ActionSpec(
        kind=cancel.KIND,
        min_role=Role.OPERATOR,
        validate=_validate,
        describe=cancel.describe,
        execute=_execute,
        title="Cancelar pedidos duplicados",
        confirm_label="Cancelar pedidos",
        danger=True,
        after_execute=_after_cancel,
    )
)
register_action(
    ActionSpec(
        kind=SIMULATE_KIND,
        min_role=Role.VIEWER,
        validate=_validate_simulation,
        describe=cancel.describe,
        execute=_execute,
        title="Simular cancelamento",
        confirm_label="Simular",
        danger=False,
    )
)


# --- helpers ----------------------------------------------------------------------------------
def _stores(ctx: CommandContext, name: str | None) -> list[str]:
    try:
        return resolve_stores(ctx.hub, name)
    except StoreError as exc:
        raise UsageError(str(exc)) from exc


def _one_store(ctx: CommandContext, name: str) -> str:
    if name.casefold() in ALL_STORES:
        raise UsageError("Escolha uma loja (não vale `todas` aqui).")
    return _stores(ctx, name)[0]


def _int(value: str, what: str, low: int, high: int) -> int:
    try:
        number = int(value.removesuffix("d"))
    except ValueError as exc:
        raise UsageError(f"{what} deve ser um número (recebi `{value}`).") from exc
    if not low <= number <= high:
        raise UsageError(f"{what} vai de {low} a {high}.")
    return number


def _when(hub: Hub, when: datetime) -> str:
    return when.astimezone(hub.settings.tz).strftime("%d/%m %H:%M")


def mask_phone(phone: str) -> str:
    """Enough to recognise a number in Slack without exposing it whole."""
    if len(phone) <= 4:
        return phone
    return phone[:3] + "•" * max(len(phone) - 7, 2) + phone[-4:]


# --- duplicate views --------------------------------------------------------------------------
_MATCH = {
    "sku": "mesmo SKU",
    "variant": "mesma variante",
    "product": "mesmo produto",
    "title": "mesmo título",
    "phone_suffix": "9 últimos dígitos do telefone",
}


def _cancel_button(store: str, finding: Finding, dup: OrderRef, number: int) -> dict[str, Any]:
    """A "Cancelar #1234" button; its value carries what the confirmation card needs."""
    value = json.dumps(
        {
            "store": store,
            "id": dup.id,
            "name": dup.name,
            "kept_id": finding.kept.id,
            "kept_name": finding.kept.name,
            "confidence": finding.confidence,
        },
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return {
        "type": "button",
        "action_id": f"{DUP_CANCEL_PREFIX}{number}",
        "text": {"type": "plain_text", "text": f"Cancelar {dup.name}"[:75]},
        "value": value[:2000],
    }


def duplicates_blocks(
    hub: Hub, report: DuplicateReport, *, cancel_buttons: bool = True
) -> tuple[str, list[dict[str, Any]]]:
    """Findings as Block Kit (≤ 50 blocks): a section per group and its "Cancelar #…" buttons."""
    name = display_name(hub, report.store)
    button_no = 0
    n_certain = sum(len(f.duplicates) for f in report.certain)
    n_possible = sum(len(f.duplicates) for f in report.findings if f.confidence == "possible")
    if not report.findings:
        text = (
            f"Loja {name}: nenhum pedido duplicado nos últimos {report.window_days} dias "
            f"({report.orders_scanned} pedidos analisados)."
        )
    else:
        text = (
            f"Loja {name}: {n_certain} pedido(s) duplicado(s) certo(s) e {n_possible} "
            f"possível(is) nos últimos {report.window_days} dias "
            f"({report.orders_scanned} pedidos analisados)."
        )
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": f"Duplicados · {name}"[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": text}},
    ]
    for index, f in enumerate(report.findings[:MAX_FINDINGS_SHOWN]):
        label = (
            ":red_circle: certo" if f.confidence == "certain" else ":large_yellow_circle: possível"
        )
        dups = "\n".join(
            f"• *{d.name}* ({_when(hub, d.created_at)}, {d.days_after_kept:+.1f} dias)"
            for d in f.duplicates
        )
        kept = "processado" if f.kept.processed else "o mais antigo"
        product = f"{f.title}" + (f" (SKU {f.sku})" if f.sku else "")
        body = (
            f"{label} · {_MATCH[f.match]} · tel. `{mask_phone(f.phone)}`\n"
            f"*{product}*\nMantido: *{f.kept.name}* ({_when(hub, f.kept.created_at)}, {kept})\n"
            f"Duplicados:\n{dups}"
        )
        if f.confidence == "possible":
            body += (
                f"\n_Confira antes: cancele um por vez com_ `/hub duplicados cancelar "
                f"{report.store} {f.duplicates[0].name}`"
            )
        if len(f.duplicates) > MAX_CANCEL_BUTTONS:
            body += (
                f"\n_Botões para os {MAX_CANCEL_BUTTONS} primeiros; os demais pelo cartão "
                "de cancelamento em lote ou pelo comando `cancelar`._"
            )
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": body[:3000]}})
        if cancel_buttons:
            buttons = []
            for d in f.duplicates[:MAX_CANCEL_BUTTONS]:
                buttons.append(_cancel_button(report.store, f, d, button_no))
                button_no += 1
            blocks.append(
                {
                    "type": "actions",
                    "block_id": f"{DUP_BLOCK_PREFIX}{index}",
                    "elements": buttons,
                }
            )
    if len(report.findings) > MAX_FINDINGS_SHOWN:
        blocks.append(
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": f"… e mais {len(report.findings) - MAX_FINDINGS_SHOWN} grupo(s). "
                        "Lista completa no CSV (ou "
                        f"`chegou-hub shopify duplicates --store {report.store} --json`).",
                    }
                ],
            }
        )
    notes = list(report.warnings)
    if report.findings:
        notes.append(
            f"Cancelar um pedido: botão *Cancelar #…* ou `/hub duplicados cancelar "
            f"{report.store} #1234`. Simular: `/hub duplicados simular {report.store}`."
        )
    if notes:
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": n[:3000]} for n in notes[:10]],
            }
        )
    return text, blocks


# --- IP views ---------------------------------------------------------------------------------
def _money(entry: IpEntry) -> str:
    totals = entry.totals
    if not totals:
        return "—"
    return " + ".join(f"{cur} {val:,.2f}" for cur, val in sorted(totals.items()))


def _ip_buttons(store: str, ip: str, watching: bool, index: int) -> dict[str, Any]:
    value = json.dumps({"store": store, "ip": ip}, separators=(",", ":"))
    buttons: list[dict[str, Any]] = []
    for target, label in IP_BUTTONS:
        if target == "watch" and watching:
            target, label = "remove", "Tirar da observação"
        buttons.append(
            {
                "type": "button",
                "action_id": f"{IP_MOVE_PREFIX}{target}.{index}",
                "text": {"type": "plain_text", "text": label},
                "value": value,
            }
        )
    return {"type": "actions", "block_id": f"{IP_BLOCK_PREFIX}{index}.actions", "elements": buttons}


def ips_blocks(
    hub: Hub, report: IpReport, *, list_buttons: bool = True
) -> tuple[str, list[dict[str, Any]]]:
    """The report as Block Kit (≤ 50 blocks): per IP a section and Permitir/Observar/Resolver."""
    name = display_name(hub, report.store)
    text = (
        f"Loja {name}: {len(report.entries)} IP(s) suspeito(s) nos últimos {report.days} dias "
        f"(≥ {report.min_orders} pedidos de clientes diferentes; {report.orders_scanned} pedidos "
        f"analisados, {report.orders_without_ip} sem IP"
        + (f", {report.excluded} IP(s) permitidos/resolvidos omitidos" if report.excluded else "")
        + ")."
    )
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": f"IPs suspeitos · {name}"[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": text}},
    ]
    for index, e in enumerate(report.entries[:MAX_IPS_SHOWN]):
        watch = WATCH_MARK if e.watching else ""
        orders = ", ".join(o.name for o in sorted(e.orders, key=lambda o: o.created_at)[:8])
        more = f" +{len(e.orders) - 8}" if len(e.orders) > 8 else ""
        sources = ", ".join(
            "atributo IP address" if s.startswith("attribute:") else s for s in sorted(e.sources)
        )
        body = (
            f"*`{e.ip}`*{watch}\n{len(e.orders)} pedidos ({e.active_orders} ativos, "
            f"{e.cancelled_orders} cancelados) · {len(e.customers)} clientes · {_money(e)}\n"
            f"De {_when(hub, e.first_order_at)} a {_when(hub, e.last_order_at)} · "
            f"fonte: {sources}\n"
            f"Pedidos: {orders}{more}"
        )
        blocks.append(
            {
                "type": "section",
                "block_id": f"{IP_BLOCK_PREFIX}{index}",
                "text": {"type": "mrkdwn", "text": body[:3000]},
            }
        )
        if list_buttons:
            blocks.append(_ip_buttons(report.store, e.ip, e.watching, index))
    notes = list(report.warnings)
    if len(report.entries) > MAX_IPS_SHOWN:
        notes.append(f"Mostrando {MAX_IPS_SHOWN} de {len(report.entries)}; lista completa no CSV.")
    if report.entries:
        notes.append(
            "Botões: *Permitir* e *Resolver* tiram o IP dos relatórios; *Observar* o mantém "
            f"marcado. Também: `/hub ip permitir|observar|resolver|remover {report.store} <ip>`."
        )
    if notes:
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": n} for n in notes[:10]]}
        )
    return text, blocks


def ips_csv(hub: Hub, report: IpReport) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "ip",
            "pedidos",
            "ativos",
            "cancelados",
            "clientes",
            "valor_total",
            "moeda",
            "primeiro_pedido",
            "ultimo_pedido",
            "fontes",
            "observando",
            "pedidos_ids",
        ]
    )
    for e in report.entries:
        writer.writerow(
            [
                e.ip,
                len(e.orders),
                e.active_orders,
                e.cancelled_orders,
                len(e.customers),
                str(e.total_value),
                e.currency,
                e.first_order_at.astimezone(hub.settings.tz).isoformat(),
                e.last_order_at.astimezone(hub.settings.tz).isoformat(),
                ";".join(sorted(e.sources)),
                "sim" if e.watching else "",
                ";".join(o.id for o in e.orders),
            ]
        )
    return out.getvalue().encode("utf-8")


def duplicates_csv(hub: Hub, report: DuplicateReport) -> bytes:
    """Every finding, one line per duplicate order (for lists longer than the message)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "confianca",
            "criterio",
            "telefone",
            "sku",
            "produto",
            "pedido_mantido",
            "mantido_id",
            "mantido_processado",
            "duplicado",
            "duplicado_id",
            "criado_em",
            "dias_depois",
        ]
    )
    for f in report.findings:
        for d in f.duplicates:
            writer.writerow(
                [
                    "certo" if f.confidence == "certain" else "possivel",
                    f.match,
                    f.phone,
                    f.sku or "",
                    f.title,
                    f.kept.name,
                    f.kept.id,
                    "sim" if f.kept.processed else "nao",
                    d.name,
                    d.id,
                    d.created_at.astimezone(hub.settings.tz).isoformat(),
                    f"{d.days_after_kept:.2f}",
                ]
            )
    return out.getvalue().encode("utf-8")


# --- /hub duplicados --------------------------------------------------------------------------
@subcommand(
    "duplicados",
    usage="/hub duplicados <loja|todas> [dias]",
    summary="Pedidos duplicados na Shopify (revisar e cancelar)",
    examples=[
        "/hub duplicados todas",
        "/hub duplicados br 15",
        "/hub duplicados simular br",
        "/hub duplicados cancelar br #1234",
    ],
    details=(
        "simular <loja> [dias] — mostra o que seria cancelado, sem alterar nada",
        "cancelar <loja> <#pedido…> — pede confirmação para cancelar pedidos específicos",
    ),
)
def duplicados(ctx: CommandContext) -> None:
    args = list(ctx.args)
    verb = args[0].lower() if args else ""
    if verb in ("cancelar", "simular"):
        _cancel_verb(ctx, verb, args[1:])
        return
    stores = _stores(ctx, args[0] if args else None)
    days = (
        _int(args[1], "O período", 1, MAX_DUP_DAYS)
        if len(args) > 1
        else ctx.hub.settings.shopify_duplicate_window_days
    )
    for store in stores:
        try:
            report = duplicates_report(ctx.hub, store, days)
        except ShopifyError as exc:
            ctx.reply(f"Loja {display_name(ctx.hub, store)}: {exc.message}")
            continue
        text, blocks = duplicates_blocks(ctx.hub, report)
        ts = ctx.post(text, blocks)
        # The bulk card remembers the findings message so its buttons can be updated after.
        origin = Origin(ctx.channel_id, ts, text, blocks) if ts else None
        if len(report.findings) > MAX_FINDINGS_SHOWN:
            ctx.upload(
                f"duplicados-{store}-{days}d.csv",
                duplicates_csv(ctx.hub, report),
                title=f"Pedidos duplicados · {display_name(ctx.hub, store)} · {days} dias",
            )
        items = cancel_items(report.certain)
        if not items:
            continue
        proposal = {"store": store, "orders": items[: cancel.MAX_ORDERS]}
        if ctx.role >= Role.OPERATOR:
            ctx.propose(cancel.KIND, proposal, origin=origin)
        else:
            ctx.reply("Para cancelar os duplicados, peça a um operador do hub.")
        ctx.propose(SIMULATE_KIND, proposal)


def _cancel_verb(ctx: CommandContext, verb: str, args: list[str]) -> None:
    if not args:
        raise UsageError(f"Informe a loja: `/hub duplicados {verb} <loja> …`")
    store = _one_store(ctx, args[0])
    rest = args[1:]
    days = ctx.hub.settings.shopify_duplicate_window_days
    if verb == "simular" and rest:
        days = _int(rest[0], "O período", 1, MAX_DUP_DAYS)
        rest = []
    if verb == "cancelar" and not rest:
        raise UsageError("Diga quais pedidos: `/hub duplicados cancelar <loja> #1234 #1235`.")
    try:
        report = duplicates_report(ctx.hub, store, days)
    except ShopifyError as exc:
        ctx.reply(f"Loja {display_name(ctx.hub, store)}: {exc.message}")
        return
    if verb == "simular":
        items = cancel_items(report.certain)
        if not items:
            ctx.reply(f"Loja {display_name(ctx.hub, store)}: nenhum duplicado certo para simular.")
            return
        result = cancel.execute(
            ctx.hub,
            ExecutionContext(
                action_id="simulacao",
                requester_id=ctx.user_id,
                confirmer_id=ctx.user_id,
                channel_id=ctx.channel_id,
                thread_ts=None,
                audit=lambda event, detail: log.info("simulation %s %s", event, detail),
            ),
            {"store": store, "orders": items, "dry_run": True},
        )
        ctx.reply(result.text, result.blocks)
        return
    wanted = {("#" + n.lstrip("#")).casefold() for n in rest}
    items = [i for i in cancel_items(report.findings) if i["name"].casefold() in wanted]
    missing = wanted - {i["name"].casefold() for i in items}
    if missing:
        raise UsageError(
            f"Não encontrei {', '.join(sorted(missing))} entre os duplicados da loja nos últimos "
            f"{days} dias."
        )
    ctx.propose(cancel.KIND, {"store": store, "orders": items})


# --- /hub ip ----------------------------------------------------------------------------------
@subcommand(
    "ip",
    usage=f"/hub ip <loja|todas> [dias ≤ {MAX_IP_DAYS}] [min_pedidos]",
    summary="IPs com pedidos de vários clientes (suspeitos)",
    examples=[
        "/hub ip todas",
        "/hub ip br 90 3",
        "/hub ip observar br 187.45.210.77",
        "/hub ip listas br",
    ],
    aliases=("ips",),
    details=(
        "permitir|observar|resolver|remover <loja> <ip> — move o IP entre as listas da loja",
        "listas <loja> — mostra os IPs permitidos, em observação e resolvidos",
    ),
)
def ip(ctx: CommandContext) -> None:
    args = list(ctx.args)
    verb = args[0].lower() if args else ""
    if verb in LIST_VERBS:
        _move_ip(ctx, verb, args[1:])
        return
    if verb == "listas":
        _show_lists(ctx, args[1:])
        return
    stores = _stores(ctx, args[0] if args else None)
    days = _int(args[1], "O período", 1, MAX_IP_DAYS) if len(args) > 1 else 30
    min_orders = _int(args[2], "O mínimo de pedidos", 2, 1000) if len(args) > 2 else 2
    for store in stores:
        try:
            report = ips_report(ctx.hub, store, days, min_orders)
        except ShopifyError as exc:
            ctx.reply(f"Loja {display_name(ctx.hub, store)}: {exc.message}")
            continue
        text, blocks = ips_blocks(ctx.hub, report)
        ctx.post(text, blocks)
        if len(report.entries) > MAX_IPS_SHOWN:
            ctx.upload(
                f"ips-suspeitos-{store}-{days}d.csv",
                ips_csv(ctx.hub, report),
                title=f"IPs suspeitos · {display_name(ctx.hub, store)} · {days} dias",
            )


def _move_ip(ctx: CommandContext, verb: str, args: list[str]) -> None:
    if ctx.role < Role.OPERATOR:
        audit.record(
            ctx.hub,
            "refused",
            actor_id=ctx.user_id,
            kind=IP_LIST_KIND,
            channel_id=ctx.channel_id,
            detail={"reason": "role", "role": ctx.role.name, "via": "command"},
        )
        raise UsageError("Mover IPs entre listas é para operadores do hub.")
    if len(args) != 2:
        raise UsageError(f"Use `/hub ip {verb} <loja> <ip>`.")
    store = _one_store(ctx, args[0])
    try:
        normalized = set_ip_list(ctx.hub, store, args[1], LIST_VERBS[verb], user=ctx.user_id)
    except StoreError as exc:
        raise UsageError(str(exc)) from exc
    target = LIST_VERBS[verb]
    _audit_move(ctx.hub, ctx.user_id, ctx.channel_id, store, normalized, target, via="command")
    ctx.reply(_moved_text(ctx.hub, store, normalized, target))


_WHERE = {
    "allow": "na lista de permitidos (fica fora dos relatórios)",
    "watch": "em observação (aparece marcado nos relatórios)",
    "resolved": "na lista de resolvidos (fica fora dos relatórios)",
    None: "fora de todas as listas",
}


def _moved_text(hub: Hub, store: str, ip: str, target: str | None) -> str:
    return f"IP `{ip}` agora está {_WHERE[target]} da loja {display_name(hub, store)}."


def _audit_move(
    hub: Hub, user: str, channel: str | None, store: str, ip: str, target: str | None, via: str
) -> None:
    audit.record(
        hub,
        "executed",
        actor_id=user,
        kind=IP_LIST_KIND,
        channel_id=channel,
        detail={"store": store, "ip": ip, "list": target or "none", "via": via},
    )


def _show_lists(ctx: CommandContext, args: list[str]) -> None:
    if len(args) != 1:
        raise UsageError("Use `/hub ip listas <loja>`.")
    store = _one_store(ctx, args[0])
    lists = ip_lists(ctx.hub, store)
    lines = [f"Listas de IP da loja {display_name(ctx.hub, store)}:"]
    for key, label in LIST_LABELS.items():
        ips = ", ".join(f"`{i}`" for i in sorted(lists[key])) or "—"
        lines.append(f"• {label.capitalize()}: {ips}")
    ctx.reply("\n".join(lines))


# --- buttons: "Cancelar #…" under each finding, Permitir/Observar/Resolver under each IP ------
def _click_parts(body: dict[str, Any]) -> tuple[str, str, dict[str, Any], dict[str, Any]]:
    """(user, channel, the action, the container) of a block_actions payload."""
    user = str((body.get("user") or {}).get("id", ""))
    container = body.get("container") or {}
    channel = str(container.get("channel_id") or (body.get("channel") or {}).get("id") or "")
    action = (body.get("actions") or [{}])[0]
    return user, channel, action, container


def _button_value(action: dict[str, Any]) -> dict[str, Any]:
    try:
        value = json.loads(str(action.get("value") or ""))
    except ValueError:
        value = None
    if not isinstance(value, dict) or not value.get("store"):
        raise UsageError(
            "Não consegui ler este botão (mensagem antiga?). Gere o relatório de novo."
        )
    return value


def cancel_click(hub: Hub, client: Any, body: dict[str, Any], role: Role) -> None:
    """A "Cancelar #…" click: post the confirmation card for that one order in the thread.

    The card is the same `shopify.cancel_duplicates` action as the bulk one (operator role,
    single-use claim, re-read before cancelling, the ledger never cancels an order twice).
    A `possible` duplicate goes alone, which the action allows. While a card for the same
    store + order is waiting, the clicker is pointed to it instead of getting a second one
    (the dedupe key; decided by the database, so two instances clicking at once agree).
    """
    user, channel, action, container = _click_parts(body)
    value = _button_value(action)
    store = str(value["store"])
    order = {key: value.get(key) for key in ("id", "name", "kept_id", "kept_name", "confidence")}
    message = body.get("message") or {}
    thread_ts = message.get("thread_ts") or container.get("message_ts")
    message_ts = container.get("message_ts") or message.get("ts")
    origin = None
    if container.get("is_ephemeral"):
        thread_ts = None
    elif channel and message_ts and message.get("blocks"):
        # What the message shows now; after the cancel its button becomes a context line.
        origin = Origin(channel, str(message_ts), str(message.get("text") or ""), message["blocks"])
    try:
        post_proposal(
            hub,
            client,
            cancel.KIND,
            {"store": store, "orders": [order]},
            requester=user,
            channel=channel,
            thread_ts=thread_ts,
            role=role,
            dedupe_key=cancel.dedupe_key(store, str(order.get("id") or "")),
            origin=origin,
        )
    except AlreadyPending as exc:
        text = _already_pending_text(
            hub, client, exc.existing, str(order.get("name") or "este pedido"), user, thread_ts
        )
        client.chat_postEphemeral(channel=channel, user=user, text=text)
        log.info(
            "cancel card already waiting user=%s order=%s card=%s",
            user,
            order.get("id"),
            exc.existing.id,
        )
        return
    log.info("cancel card for one order user=%s order=%s", user, order.get("id"))


def _already_pending_text(
    hub: Hub,
    client: Any,
    row: PendingAction,
    order_name: str,
    clicker: str,
    thread_ts: str | None,
) -> str:
    """pt-BR: who asked for the waiting card, until when it is valid, and where it is."""
    who = "Você já pediu" if row.requester_id == clicker else f"<@{row.requester_id}> já pediu"
    text = (
        f"{who} o cancelamento de {order_name} às {_when(hub, row.created_at)} e o cartão de "
        f"confirmação está aguardando (vale até {_when(hub, row.expires_at)}), então não criei "
        "outro."
    )
    link = _permalink(client, row.channel_id, row.message_ts)
    if link:
        text += f" <{link}|Abrir o cartão>."
    elif row.thread_ts and row.thread_ts == thread_ts:
        text += " Ele está no fio desta mensagem."
    else:
        text += f" Ele está em <#{row.channel_id}>."
    if row.requester_id != clicker:
        text += " Só quem pediu ou um administrador pode confirmá-lo."
    return text


def _permalink(client: Any, channel: str, ts: str | None) -> str | None:
    """The card's permalink, or None (not posted yet, or Slack would not say)."""
    if not ts:
        return None
    try:
        response = client.chat_getPermalink(channel=channel, message_ts=ts)
    except Exception as exc:
        log.info("no permalink for a waiting card channel=%s error=%s", channel, _slack_error(exc))
        return None
    link = response.get("permalink")
    return str(link) if link else None


def _slack_error(exc: Exception) -> str:
    """Slack's error code (e.g. message_not_found) or the exception type: never the payload."""
    from handlers.commands import slack_error_code

    return slack_error_code(exc) or type(exc).__name__


# --- the findings message after a cancel ------------------------------------------------------
def _cancel_target(element: dict[str, Any]) -> tuple[str, str] | None:
    """(order id, name) of a "Cancelar #…" button, None for anything else."""
    if not str(element.get("action_id", "")).startswith(DUP_CANCEL_PREFIX):
        return None
    try:
        value = json.loads(str(element.get("value") or ""))
    except ValueError:
        return None
    if not isinstance(value, dict) or not value.get("id"):
        return None
    return str(value["id"]), str(value.get("name") or value["id"])


def _is_findings_actions(block: dict[str, Any]) -> bool:
    block_id = str(block.get("block_id") or "")
    return block.get("type") == "actions" and block_id.startswith(DUP_BLOCK_PREFIX)


def button_order_ids(blocks: list[dict[str, Any]]) -> list[str]:
    """Order ids behind the "Cancelar #…" buttons still shown in a findings message."""
    ids: list[str] = []
    for block in blocks:
        if _is_findings_actions(block):
            for element in block.get("elements", []):
                target = _cancel_target(element)
                if target is not None:
                    ids.append(target[0])
    return ids


def _done_line(name: str, user: str | None) -> dict[str, Any]:
    by = f"por <@{user}>" if user else "pelo Chegou Hub"
    return {"type": "mrkdwn", "text": f":white_check_mark: {name} cancelado {by}"}


def _natural(text: str) -> list[tuple[int, str]]:
    """Sort key putting "#999" before "#1000": the lines read in order whatever the history."""
    return [(int(part), "") if part.isdigit() else (-1, part) for part in re.split(r"(\d+)", text)]


def findings_after_cancel(
    blocks: list[dict[str, Any]], cancelled: Mapping[str, str | None]
) -> list[dict[str, Any]]:
    """The findings blocks with each cancelled order's button swapped for a context line.

    `cancelled` maps order id → who confirmed (None: unknown). Buttons of other orders stay.
    Applying it again, or to a message already updated, changes nothing more: lines already in
    a finding's `.done` context are kept and only orders whose button is still there are added,
    in order-number order, so any snapshot of the message gives the same result.
    Growth is bounded: at most one context per finding (≤ MAX_FINDINGS_SHOWN), ≤ 5 lines each.
    """
    existing = {
        str(b.get("block_id")): b
        for b in blocks
        if b.get("type") == "context" and str(b.get("block_id") or "").endswith(DONE_SUFFIX)
    }
    changes: dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]] = {}
    for block in blocks:
        if not _is_findings_actions(block):
            continue
        kept: list[dict[str, Any]] = []
        lines: list[dict[str, Any]] = []
        for element in block.get("elements", []):
            target = _cancel_target(element)
            if target is not None and target[0] in cancelled:
                lines.append(_done_line(target[1], cancelled[target[0]]))
            else:
                kept.append(element)
        if lines:
            changes[str(block["block_id"])] = (kept, lines)
    if not changes:
        return blocks
    merged = {f"{block_id}{DONE_SUFFIX}" for block_id in changes}
    out: list[dict[str, Any]] = []
    for block in blocks:
        block_id = str(block.get("block_id") or "")
        if block_id in changes:
            kept, lines = changes[block_id]
            if kept:  # an actions block needs at least one element
                out.append({**block, "elements": kept})
            done_id = f"{block_id}{DONE_SUFFIX}"
            previous = list(existing.get(done_id, {}).get("elements", []))
            elements = sorted(
                {str(e.get("text", "")): e for e in [*previous, *lines]}.values(),
                key=lambda e: _natural(str(e.get("text", ""))),
            )
            out.append({"type": "context", "block_id": done_id, "elements": elements[:10]})
        elif block_id in merged:
            continue  # re-emitted above, next to its finding's buttons
        else:
            out.append(block)
    return out


def update_findings_after_cancel(hub: Hub, client: Any, done: Executed) -> None:
    """After a cancel ran: show "#1234 cancelado por @…" instead of those buttons in the
    findings message the card came from. Best effort: a message that is gone (or cannot be
    updated) is logged and left alone; the cancel itself already happened.

    The ledger, not this run's result, says what is cancelled, so concurrent cancels from
    other cards converge: after each write the ledger is read again and the message rewritten
    if it changed meanwhile (a later write can never drop an earlier cancel).
    """
    origin = done.origin
    counts = done.result.details.get("counts") or {}
    if origin is None or not counts.get("cancelled"):
        return
    store = str(done.args.get("store") or "")
    order_ids = button_order_ids(origin.blocks)
    written: dict[str, str | None] | None = None
    for _ in range(REPORT_UPDATE_ROUNDS):
        cancelled = cancel.cancelled_by(hub, store, order_ids)
        if cancelled == written:
            return
        blocks = findings_after_cancel(origin.blocks, cancelled)
        if written is None and blocks == origin.blocks:
            return  # none of its buttons is for a cancelled order
        try:
            client.chat_update(
                channel=origin.channel,
                ts=origin.ts,
                text=origin.text or "Pedidos duplicados",
                blocks=blocks,
            )
        except Exception as exc:
            log.warning(
                "findings message not updated after cancel action=%s channel=%s ts=%s error=%s",
                done.action_id,
                origin.channel,
                origin.ts,
                _slack_error(exc),
            )
            return
        written = cancelled


def ip_click(hub: Hub, client: Any, body: dict[str, Any], role: Role) -> None:
    """Move the IP to allow/watch/resolved (or off the watch list) and update the report."""
    user, channel, action, container = _click_parts(body)
    target_key = str(action.get("action_id", "")).split(".")[2]
    target = None if target_key == "remove" else target_key
    if role < Role.OPERATOR:
        audit.record(
            hub,
            "refused",
            actor_id=user,
            kind=IP_LIST_KIND,
            channel_id=channel,
            detail={"reason": "role", "role": role.name, "via": "button"},
        )
        raise Refused(
            f"Mover IPs entre listas é para operadores do hub (seu papel: {role.label}). "
            "Peça a um operador ou administrador."
        )
    value = _button_value(action)
    try:
        (store,) = resolve_stores(hub, str(value["store"]))
        ip = set_ip_list(hub, store, str(value.get("ip", "")), target, user=user)
    except (StoreError, ValueError) as exc:
        raise UsageError(str(exc)) from exc
    _audit_move(hub, user, channel, store, ip, target, via="button")
    message = body.get("message") or {}
    ts = container.get("message_ts") or message.get("ts")
    blocks = message.get("blocks")
    if blocks and ts and channel and not container.get("is_ephemeral"):
        section_id = str(action.get("block_id", "")).removesuffix(".actions")
        client.chat_update(
            channel=channel,
            ts=ts,
            text=str(message.get("text") or "IPs suspeitos"),
            blocks=report_after_move(blocks, section_id, store, ip, target, user),
        )
    client.chat_postEphemeral(channel=channel, user=user, text=_moved_text(hub, store, ip, target))


def report_after_move(
    blocks: list[dict[str, Any]],
    section_id: str,
    store: str,
    ip: str,
    target: str | None,
    user: str,
) -> list[dict[str, Any]]:
    """The IP report's blocks once `ip` moved: allowed/resolved leave, watch is marked."""
    out: list[dict[str, Any]] = []
    index = section_id.removeprefix(IP_BLOCK_PREFIX)
    for block in blocks:
        block_id = block.get("block_id")
        if block_id == section_id:
            if target in ("allow", "resolved"):
                label = LIST_LABELS[target]
                out.append(
                    {
                        "type": "context",
                        "block_id": section_id,
                        "elements": [
                            {
                                "type": "mrkdwn",
                                "text": f"`{ip}` movido para {label} por <@{user}>.",
                            }
                        ],
                    }
                )
                continue
            text = str(block["text"]["text"]).replace(WATCH_MARK, "", 1)
            head, sep, tail = text.partition("\n")
            if target == "watch":
                head += WATCH_MARK
            out.append({**block, "text": {**block["text"], "text": head + sep + tail}})
        elif block_id == f"{section_id}.actions":
            if target not in ("allow", "resolved") and index.isdigit():
                out.append(_ip_buttons(store, ip, target == "watch", int(index)))
        else:
            out.append(block)
    return out


ClickHandler = Callable[["Hub", Any, dict[str, Any], Role], None]


def _run_click(app: HubApp, client: Any, body: dict[str, Any], handler: ClickHandler) -> None:
    user, channel, action, _ = _click_parts(body)
    try:
        handler(app.hub, client, body, app.role_of(user))
    except (UsageError, Refused) as exc:
        if channel and user:
            client.chat_postEphemeral(channel=channel, user=user, text=str(exc))
    except Exception as exc:
        from handlers.commands import describe_failure, new_reference

        ref = new_reference()
        log.exception(
            "shopify button failed ref=%s action=%s user=%s", ref, action.get("action_id"), user
        )
        if channel and user:
            try:
                client.chat_postEphemeral(
                    channel=channel,
                    user=user,
                    text=describe_failure(exc, "processar o clique", ref),
                )
            except Exception:
                log.exception("could not report a click failure ref=%s", ref)


def register(app: HubApp) -> None:
    """Bolt listeners for the buttons: ack at once, the work runs in the app's work pool."""

    def submit(client: Any, body: dict[str, Any], handler: ClickHandler) -> None:
        if app.submit_work(_run_click, app, client, body, handler):
            return
        from handlers.commands import BUSY_TEXT

        user, channel, _, _ = _click_parts(body)
        if channel and user:
            client.chat_postEphemeral(channel=channel, user=user, text=BUSY_TEXT)

    @app.action(DUP_CANCEL_ACTION)
    def _cancel_one(ack: Any, body: dict[str, Any], client: Any) -> None:
        ack()
        submit(client, body, cancel_click)

    @app.action(IP_MOVE_ACTION)
    def _move(ack: Any, body: dict[str, Any], client: Any) -> None:
        ack()
        submit(client, body, ip_click)
