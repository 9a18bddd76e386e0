"""Side effects need a human: preview → Confirm button → single-use claim → execute → audit.

Areas register an `ActionSpec` per kind of side effect (in their handlers module):

    register_action(ActionSpec(
        kind="shopify.cancel_duplicates",
        min_role=Role.OPERATOR,
        validate=validate_cancel_args,     # dict -> normalised dict; raises UsageError (pt-BR)
        describe=describe_cancel,          # (hub, args) -> pt-BR preview text
        execute=execute_cancel,            # (hub, ExecutionContext, args) -> ExecutionResult
    ))

and call `ctx.propose(kind, args)` (slash commands) or `ToolContext.propose` (assistant). The
pending action is stored with its validated args, requester and expiry; the Confirm click claims
it atomically (double clicks, replays and other instances execute nothing), re-runs `validate`,
checks the clicker is the requester or an admin with at least `min_role`, then executes.

Two optional extras: a `dedupe_key` (at most one card waiting per key, enforced by a partial
unique index, so double clicks and other instances get `AlreadyPending` instead of a second
card) and an `origin` (the Slack message the action came from), handed with the result to the
spec's `after_execute` hook so the area can update that message once the action ran.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from bot.db import session_scope
from bot.security import audit
from bot.security.models import PendingAction
from bot.security.roles import Role

if TYPE_CHECKING:
    from bot.hub import Hub


@dataclass(frozen=True)
class ExecutionContext:
    action_id: str
    requester_id: str
    confirmer_id: str
    channel_id: str
    thread_ts: str | None
    # audit(event, detail) appends to the audit log under this action.
    audit: Callable[[str, dict[str, Any]], None]


@dataclass(frozen=True)
class ExecutionResult:
    text: str  # pt-BR summary shown in place of the card
    blocks: list[dict[str, Any]] | None = None
    ok: bool = True
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Origin:
    """The Slack message an action was proposed from (e.g. the report whose button was clicked).

    `blocks` is a snapshot taken at proposal time: the bot has no scope to read channel
    history, so this is what an `after_execute` hook rewrites and sends back with chat.update.
    """

    channel: str
    ts: str
    text: str = ""
    blocks: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(
            {"channel": self.channel, "ts": self.ts, "text": self.text, "blocks": self.blocks},
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, raw: str | None) -> Origin | None:
        if not raw:
            return None
        try:
            data = json.loads(raw)
            return cls(
                channel=str(data["channel"]),
                ts=str(data["ts"]),
                text=str(data.get("text") or ""),
                blocks=list(data.get("blocks") or []),
            )
        except (ValueError, KeyError, TypeError):
            return None


@dataclass(frozen=True)
class Executed:
    """What `after_execute` gets once `execute` returned a result (ok or not)."""

    action_id: str
    kind: str
    requester_id: str
    confirmer_id: str
    args: dict[str, Any]
    result: ExecutionResult
    origin: Origin | None


@dataclass(frozen=True)
class ActionSpec:
    kind: str
    min_role: Role
    validate: Callable[[Hub, dict[str, Any]], dict[str, Any]]
    describe: Callable[[Hub, dict[str, Any]], str]
    execute: Callable[[Hub, ExecutionContext, dict[str, Any]], ExecutionResult]
    title: str = "Confirmar ação"
    confirm_label: str = "Confirmar"
    danger: bool = True
    ttl_seconds: int | None = None  # default: settings.hub_confirmation_ttl_seconds
    # (hub, Slack client, Executed): runs after the card shows the result, e.g. to update the
    # origin message. Best effort: a failure is logged and never reaches the person.
    after_execute: Callable[[Hub, Any, Executed], None] | None = None


ACTIONS: dict[str, ActionSpec] = {}


def register_action(spec: ActionSpec) -> ActionSpec:
    ACTIONS[spec.kind] = spec
    return spec


# --- storage, single-use claim and the card ---------------------------------------------------
# Everything below is the Slack helper's implementation on top of the ActionSpec API above.


log = logging.getLogger(__name__)

CONFIRM_ACTION_ID = "hub.confirm"
CANCEL_ACTION_ID = "hub.cancel"
BLOCK_PREFIX = "hub.pending."


class Refused(Exception):
    """The person may not propose/confirm this action (pt-BR message)."""


class AlreadyPending(Refused):
    """A card with the same dedupe key is still waiting for a click: no second card was made.

    The message is a generic pt-BR one; callers that can point to the card (a permalink) use
    `existing` to say more.
    """

    def __init__(self, message: str, existing: PendingAction) -> None:
        super().__init__(message)
        self.existing = existing


@dataclass(frozen=True)
class Proposal:
    action_id: str
    kind: str
    args: dict[str, Any]
    text: str  # fallback text of the card
    blocks: list[dict[str, Any]]
    expires_at: datetime


@dataclass(frozen=True)
class ClickOutcome:
    """What the click handler tells Slack: replace the card and/or tell the clicker."""

    card_text: str | None = None  # replace the card with this (None: leave it)
    card_blocks: list[dict[str, Any]] | None = None
    ephemeral: str | None = None  # message only the clicker sees
    executed: bool = False
    # Set when execute returned and the spec has `after_execute` (see run_after_execute).
    follow_up: Executed | None = None


def get_spec(kind: str) -> ActionSpec:
    try:
        return ACTIONS[kind]
    except KeyError:
        raise Refused(f"Não conheço a ação `{kind}`.") from None


def _fmt_time(hub: Hub, when: datetime) -> str:
    return when.astimezone(hub.settings.tz).strftime("%d/%m %H:%M")


def create_pending(
    hub: Hub,
    kind: str,
    args: dict[str, Any],
    *,
    requester: str,
    channel: str,
    thread_ts: str | None = None,
    role: Role | None = None,
    dedupe_key: str | None = None,
    origin: Origin | None = None,
) -> Proposal:
    """Validate, store and audit a pending action; returns its card. Raises UsageError/Refused.

    With `dedupe_key`, raises `AlreadyPending` while another unexpired card with that key waits
    (race-safe: the database's partial unique index decides between concurrent requests).
    """
    from bot.security.roles import resolve_role

    spec = get_spec(kind)
    role = role if role is not None else resolve_role(hub.settings, requester)
    if role < spec.min_role:
        audit.record(
            hub,
            "refused",
            actor_id=requester,
            kind=kind,
            channel_id=channel,
            detail={"reason": "role", "role": role.name},
        )
        raise Refused(
            f"Você não tem permissão para pedir esta ação: é preciso ser "
            f"*{spec.min_role.label}* (seu papel: {role.label})."
        )
    clean = spec.validate(hub, dict(args))
    preview = spec.describe(hub, clean)
    now = hub.clock.now()
    ttl = spec.ttl_seconds or hub.settings.hub_confirmation_ttl_seconds
    row = PendingAction(
        id=secrets.token_hex(8),
        kind=kind,
        args_json=json.dumps(clean, default=str, ensure_ascii=False, sort_keys=True),
        requester_id=requester,
        channel_id=channel,
        thread_ts=thread_ts,
        created_at=now,
        expires_at=now + timedelta(seconds=ttl),
        dedupe_key=dedupe_key,
        origin_json=origin.to_json() if origin is not None else None,
    )
    if dedupe_key is None:
        with session_scope(hub.engine) as session:
            session.add(row)
    else:
        _insert_deduped(hub, row, requester)
    audit.record(
        hub,
        "requested",
        actor_id=requester,
        kind=kind,
        action_id=row.id,
        channel_id=channel,
        detail={"args": clean},
    )
    text = f"{spec.title}: {preview}"
    return Proposal(row.id, kind, clean, text, card_blocks(hub, spec, row, preview), row.expires_at)


DEDUPE_ATTEMPTS = 3


def _insert_deduped(hub: Hub, row: PendingAction, requester: str) -> None:
    """Insert `row` unless an unexpired pending row holds its dedupe key (→ AlreadyPending).

    A pending row past its expiry is marked expired first so it never blocks a new card. The
    unique index settles races: the loser's INSERT fails and it reports the winner's card. A
    retry covers the winner leaving "pending" (confirmed, cancelled) between the two steps.
    """
    key = row.dedupe_key
    assert key is not None
    for _ in range(DEDUPE_ATTEMPTS):
        now = hub.clock.now()
        _expire_waiting(hub, key, now, requester)
        try:
            with session_scope(hub.engine) as session:
                # A fresh instance per attempt: a rolled-back one is not reused.
                session.add(PendingAction.model_validate(row.model_dump()))
            return
        except IntegrityError:
            existing = _waiting(hub, key)
            if existing is not None and existing.expires_at > hub.clock.now():
                log.info(
                    "pending action not duplicated kind=%s existing=%s requester=%s",
                    row.kind,
                    existing.id,
                    requester,
                )
                raise AlreadyPending(_already_pending_text(hub, existing), existing) from None
    raise RuntimeError(f"could not store the pending action for key {key!r}")


def _waiting(hub: Hub, key: str) -> PendingAction | None:
    with session_scope(hub.engine) as session:
        return session.execute(
            select(PendingAction).where(
                PendingAction.dedupe_key == key,  # type: ignore[arg-type]
                PendingAction.status == "pending",  # type: ignore[arg-type]
            )
        ).scalar_one_or_none()


def _expire_waiting(hub: Hub, key: str, now: datetime, actor: str) -> None:
    """Mark an expired-but-still-pending row with this key as expired (frees the key)."""
    row = _waiting(hub, key)
    if row is None or row.expires_at > now:
        return
    stmt = (
        update(PendingAction)
        .where(PendingAction.id == row.id)  # type: ignore[arg-type]
        .where(PendingAction.status == "pending")  # type: ignore[arg-type]
        .where(PendingAction.expires_at <= now)  # type: ignore[arg-type]
        .values(status="expired")
    )
    with session_scope(hub.engine) as session:
        expired = int(session.execute(stmt).rowcount or 0) == 1  # type: ignore[attr-defined]
    if expired:
        _audit(hub, row, "expired", actor, {"reason": "superseded"})


def _already_pending_text(hub: Hub, row: PendingAction) -> str:
    return (
        f"Já existe um cartão de confirmação aguardando para esta ação, pedido por "
        f"<@{row.requester_id}> às {_fmt_time(hub, row.created_at)} (expira às "
        f"{_fmt_time(hub, row.expires_at)}). Não criei outro: use o cartão que já está lá."
    )


def card_blocks(
    hub: Hub, spec: ActionSpec, row: PendingAction, preview: str
) -> list[dict[str, Any]]:
    confirm_button: dict[str, Any] = {
        "type": "button",
        "action_id": CONFIRM_ACTION_ID,
        "text": {"type": "plain_text", "text": spec.confirm_label[:75]},
        "value": row.id,
        "style": "danger" if spec.danger else "primary",
        "confirm": {
            "title": {"type": "plain_text", "text": spec.title[:100]},
            "text": {"type": "mrkdwn", "text": f"Tem certeza? {preview}"[:300]},
            "confirm": {"type": "plain_text", "text": spec.confirm_label[:30]},
            "deny": {"type": "plain_text", "text": "Voltar"},
            **({"style": "danger"} if spec.danger else {}),
        },
    }
    return [
        {"type": "header", "text": {"type": "plain_text", "text": spec.title[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": preview[:3000]}},
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": f"Pedido por <@{row.requester_id}> · expira às "
                    f"{_fmt_time(hub, row.expires_at)} · só quem pediu ou um administrador "
                    "pode confirmar.",
                }
            ],
        },
        {
            "type": "actions",
            "block_id": f"{BLOCK_PREFIX}{row.id}",
            "elements": [
                confirm_button,
                {
                    "type": "button",
                    "action_id": CANCEL_ACTION_ID,
                    "text": {"type": "plain_text", "text": "Cancelar"},
                    "value": row.id,
                },
            ],
        },
    ]


def propose_card(
    hub: Hub,
    kind: str,
    args: dict[str, Any],
    requester: str,
    channel: str,
    thread_ts: str | None,
    *,
    role: Role | None = None,
) -> list[dict[str, Any]]:
    """Store a pending action and return the blocks of its confirmation card.

    For the assistant's proposal tools: the caller posts the blocks (with a fallback text) in
    the thread. Raises `UsageError` (bad args) or `Refused` (the requester lacks the role).
    """
    return create_pending(
        hub, kind, args, requester=requester, channel=channel, thread_ts=thread_ts, role=role
    ).blocks


def post_proposal(
    hub: Hub,
    client: Any,
    kind: str,
    args: dict[str, Any],
    *,
    requester: str,
    channel: str,
    thread_ts: str | None = None,
    role: Role | None = None,
    dedupe_key: str | None = None,
    origin: Origin | None = None,
) -> Proposal:
    """Create the pending action and post its card visibly in the channel.

    Raises `AlreadyPending` (a `Refused`) when `dedupe_key` is held by a waiting card.
    """
    proposal = create_pending(
        hub,
        kind,
        args,
        requester=requester,
        channel=channel,
        thread_ts=thread_ts,
        role=role,
        dedupe_key=dedupe_key,
        origin=origin,
    )
    try:
        response = client.chat_postMessage(
            channel=channel, text=proposal.text, blocks=proposal.blocks, thread_ts=thread_ts
        )
    except Exception:
        # No card means nobody can confirm: withdraw the row so its dedupe key is free again.
        if _transition(
            hub, proposal.action_id, from_status="pending", values={"status": "cancelled"}
        ):
            row = load(hub, proposal.action_id)
            if row is not None:
                _audit(hub, row, "cancelled", requester, {"reason": "card_not_posted"})
        raise
    ts = response.get("ts")
    values: dict[str, Any] = {}
    if ts:
        values["message_ts"] = str(ts)
    posted_in = response.get("channel")
    if origin is not None and origin.channel == channel and posted_in and posted_in != channel:
        # Posting to a user id lands in the DM (D…); chat.update needs that id, and the origin
        # was posted to the same place as the card.
        values["origin_json"] = Origin(
            str(posted_in), origin.ts, origin.text, origin.blocks
        ).to_json()
    if values:
        with session_scope(hub.engine) as session:
            session.execute(
                update(PendingAction)
                .where(PendingAction.id == proposal.action_id)  # type: ignore[arg-type]
                .values(**values)
            )
    return proposal


def load(hub: Hub, action_id: str) -> PendingAction | None:
    with session_scope(hub.engine) as session:
        return session.get(PendingAction, action_id)


def _transition(
    hub: Hub,
    action_id: str,
    *,
    from_status: str,
    values: dict[str, Any],
    not_expired_at: datetime | None = None,
) -> bool:
    """One conditional UPDATE; True when this caller won (rowcount == 1)."""
    stmt = (
        update(PendingAction)
        .where(PendingAction.id == action_id)  # type: ignore[arg-type]
        .where(PendingAction.status == from_status)  # type: ignore[arg-type]
    )
    if not_expired_at is not None:
        stmt = stmt.where(PendingAction.expires_at > not_expired_at)  # type: ignore[arg-type]
    with session_scope(hub.engine) as session:
        result = session.execute(stmt.values(**values))
        return int(result.rowcount or 0) == 1  # type: ignore[attr-defined]


def _status_text(hub: Hub, row: PendingAction) -> str:
    if row.status in ("claimed", "executed", "failed"):
        who = f"<@{row.claimed_by}>" if row.claimed_by else "outra pessoa"
        when = f" às {_fmt_time(hub, row.claimed_at)}" if row.claimed_at else ""
        return f"Essa ação já foi confirmada por {who}{when}; não vou executá-la de novo."
    if row.status == "cancelled":
        return "Essa ação foi cancelada; nada foi executado."
    if row.status == "invalid":
        return "Essa ação não é mais válida; nada foi executado. Peça de novo se precisar."
    return _expired_text(hub, row)


def _expired_text(hub: Hub, row: PendingAction) -> str:
    return (
        f"Essa solicitação expirou às {_fmt_time(hub, row.expires_at)} e não foi executada. "
        "Peça a ação de novo para gerar um novo cartão de confirmação."
    )


def _audit(
    hub: Hub, row: PendingAction, event: str, actor: str, detail: dict[str, Any] | None = None
) -> None:
    """An audit record about the pending action `row`."""
    audit.record(
        hub,
        event,
        actor_id=actor,
        kind=row.kind,
        action_id=row.id,
        channel_id=row.channel_id,
        detail=detail,
    )


def _result_card(
    text: str, footer: str, blocks: list[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    body = blocks or [{"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}]
    return [
        *body[:49],
        {"type": "context", "elements": [{"type": "mrkdwn", "text": footer}]},
    ]


def handle_click(
    hub: Hub,
    action_id: str,
    *,
    clicker: str,
    role: Role,
    decision: Literal["confirm", "cancel"],
) -> ClickOutcome:
    """Apply a Confirm/Cancel click. Safe under double clicks, replays and several instances."""
    row = load(hub, action_id)
    if row is None:
        return ClickOutcome(ephemeral="Não encontrei essa ação. Peça de novo, por favor.")
    spec = ACTIONS.get(row.kind)
    if spec is None:
        return ClickOutcome(
            ephemeral=f"A ação `{row.kind}` não está disponível nesta versão do Chegou Hub."
        )
    now = hub.clock.now()
    allowed = clicker == row.requester_id or role >= Role.ADMIN
    if not allowed or (decision == "confirm" and role < spec.min_role):
        _audit(hub, row, "refused", clicker, {"decision": decision, "role": role.name})
        reason = (
            f"Só <@{row.requester_id}> (quem pediu) ou um administrador pode decidir esta ação."
            if not allowed
            else f"Para confirmar é preciso ser *{spec.min_role.label}* (seu papel: {role.label})."
        )
        return ClickOutcome(ephemeral=reason)
    if row.status != "pending":
        return ClickOutcome(ephemeral=_status_text(hub, row))
    if row.expires_at <= now:
        if _transition(hub, row.id, from_status="pending", values={"status": "expired"}):
            _audit(hub, row, "expired", clicker)
        text = _expired_text(hub, row)
        return ClickOutcome(
            card_text=text, card_blocks=_result_card(f"⌛ {text}", spec.title), ephemeral=text
        )
    if decision == "cancel":
        if not _transition(hub, row.id, from_status="pending", values={"status": "cancelled"}):
            return ClickOutcome(ephemeral=_status_text(hub, load(hub, row.id) or row))
        _audit(hub, row, "cancelled", clicker)
        text = f"Cancelada por <@{clicker}>. Nada foi executado."
        return ClickOutcome(card_text=text, card_blocks=_result_card(f"✖️ {text}", spec.title))
    claimed = _transition(
        hub,
        row.id,
        from_status="pending",
        values={"status": "claimed", "claimed_by": clicker, "claimed_at": now},
        not_expired_at=now,
    )
    if not claimed:
        current = load(hub, row.id) or row
        return ClickOutcome(ephemeral=_status_text(hub, current))
    _audit(hub, row, "confirmed", clicker)
    return _execute(hub, spec, row, clicker)


def _execute(hub: Hub, spec: ActionSpec, row: PendingAction, clicker: str) -> ClickOutcome:
    from handlers.registry import UsageError

    footer = f"{spec.title} · pedido por <@{row.requester_id}> · confirmado por <@{clicker}>"
    try:
        args = spec.validate(hub, json.loads(row.args_json))
    except UsageError as exc:
        _finish(hub, row.id, "invalid", str(exc), None)
        _audit(hub, row, "invalid", clicker, {"error": str(exc)})
        text = f"Não executei: os dados mudaram desde o pedido. {exc}"
        return ClickOutcome(card_text=text, card_blocks=_result_card(f"⚠️ {text}", footer))

    def audit_hook(event: str, detail: dict[str, Any]) -> None:
        _audit(hub, row, event, clicker, detail)

    ctx = ExecutionContext(
        action_id=row.id,
        requester_id=row.requester_id,
        confirmer_id=clicker,
        channel_id=row.channel_id,
        thread_ts=row.thread_ts,
        audit=audit_hook,
    )
    try:
        result = spec.execute(hub, ctx, args)
    except Exception as exc:
        from handlers.commands import describe_failure, new_reference
        from integrations.runtime.errors import IntegrationError

        ref = new_reference()
        upstream = isinstance(exc, IntegrationError)  # expected: no traceback
        log.log(
            logging.WARNING if upstream else logging.ERROR,
            "confirmed action failed ref=%s kind=%s action=%s error=%s",
            ref,
            row.kind,
            row.id,
            exc if upstream else type(exc).__name__,
            exc_info=not upstream,
        )
        text = describe_failure(exc, "executar a ação", ref)
        _finish(hub, row.id, "failed", text, {"ref": ref, "error": type(exc).__name__})
        audit_hook("failed", {"ref": ref, "error": type(exc).__name__})
        return ClickOutcome(card_text=text, card_blocks=_result_card(f"❌ {text}", footer))
    status = "executed" if result.ok else "failed"
    _finish(hub, row.id, status, result.text, result.details)
    audit_hook(status, {"result": result.text[:500], **result.details})
    prefix = "✅" if result.ok else "❌"
    blocks = _result_card(f"{prefix} {result.text}", footer, result.blocks)
    follow_up = None
    if spec.after_execute is not None:
        follow_up = Executed(
            action_id=row.id,
            kind=row.kind,
            requester_id=row.requester_id,
            confirmer_id=clicker,
            args=args,
            result=result,
            origin=Origin.from_json(row.origin_json),
        )
    return ClickOutcome(
        card_text=result.text, card_blocks=blocks, executed=result.ok, follow_up=follow_up
    )


def run_after_execute(hub: Hub, client: Any, outcome: ClickOutcome) -> None:
    """Run the spec's `after_execute` for an executed action; never raises (logs instead)."""
    done = outcome.follow_up
    if done is None:
        return
    spec = ACTIONS.get(done.kind)
    if spec is None or spec.after_execute is None:
        return
    try:
        spec.after_execute(hub, client, done)
    except Exception as exc:
        # The action already ran and its card shows the result: a stale report is cosmetic.
        log.warning(
            "after_execute failed kind=%s action=%s error=%s",
            done.kind,
            done.action_id,
            type(exc).__name__,
            exc_info=True,
        )


def _finish(
    hub: Hub, action_id: str, status: str, text: str, details: dict[str, Any] | None
) -> None:
    _transition(
        hub,
        action_id,
        from_status="claimed",
        values={
            "status": status,
            "result_text": text,
            "result_json": json.dumps(details or {}, default=str, ensure_ascii=False),
        },
    )
