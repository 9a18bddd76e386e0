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
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

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


ACTIONS: dict[str, ActionSpec] = {}


def register_action(spec: ActionSpec) -> ActionSpec:
    ACTIONS[spec.kind] = spec
    return spec
