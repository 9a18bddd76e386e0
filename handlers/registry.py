"""The `/hub <sub>` command registry: areas declare subcommands; the router dispatches.

    @subcommand("custos", usage="/hub custos [7d|30d|mes] [openai|anthropic|todos]",
                summary="Gastos com IA", examples=["/hub custos 7d openai"])
    def costs(ctx: CommandContext) -> None:
        ctx.reply("…")

A handler raises `UsageError("mensagem em pt-BR")` for bad arguments: the router answers with
that message plus the usage, ephemerally. Any other exception becomes a pt-BR error message with
a reference id that also appears in the log. Handlers run after the ack, in a worker pool.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol

from bot.security.roles import Role

if TYPE_CHECKING:
    from bot.hub import Hub
    from bot.security.confirmations import Origin


class UsageError(Exception):
    """Bad arguments: the message (pt-BR) is shown with the subcommand's usage."""


class CommandContext(Protocol):
    hub: Hub
    user_id: str
    channel_id: str
    args: list[str]  # words after the subcommand name
    text: str  # the raw text after the subcommand name
    role: Role
    trigger_id: str | None

    def reply(self, text: str, blocks: list[dict[str, Any]] | None = None) -> None:
        """Ephemeral answer to the person who ran the command."""
        ...

    def post(
        self, text: str, blocks: list[dict[str, Any]] | None = None, thread_ts: str | None = None
    ) -> str | None:
        """Visible message in the channel; returns its ts."""
        ...

    def upload(
        self,
        filename: str,
        content: bytes,
        *,
        title: str | None = None,
        comment: str | None = None,
        thread_ts: str | None = None,
    ) -> None:
        """A file (chart, CSV) in the channel through files_upload_v2."""
        ...

    def propose(self, kind: str, args: dict[str, Any], *, origin: Origin | None = None) -> None:
        """Post a confirmation card for a side effect (see bot.security.confirmations).

        `origin`: the message the action is about (e.g. a report just posted), handed to the
        action's `after_execute` hook so it can update that message once the action ran.
        """
        ...


@dataclass(frozen=True)
class Subcommand:
    name: str
    handler: Callable[[CommandContext], None]
    usage: str
    summary: str
    examples: Sequence[str] = ()
    min_role: Role = Role.VIEWER
    aliases: Sequence[str] = ()
    # Nested verbs shown in help, e.g. ("validar", "exportar csv|json <período>").
    details: Sequence[str] = field(default_factory=tuple)


SUBCOMMANDS: dict[str, Subcommand] = {}


def subcommand(
    name: str,
    *,
    usage: str,
    summary: str,
    examples: Sequence[str] = (),
    min_role: Role = Role.VIEWER,
    aliases: Sequence[str] = (),
    details: Sequence[str] = (),
) -> Callable[[Callable[[CommandContext], None]], Callable[[CommandContext], None]]:
    def decorate(fn: Callable[[CommandContext], None]) -> Callable[[CommandContext], None]:
        spec = Subcommand(
            name, fn, usage, summary, tuple(examples), min_role, tuple(aliases), tuple(details)
        )
        for key in (name, *aliases):
            SUBCOMMANDS[key] = spec
        return fn

    return decorate


def load_handlers() -> list[ModuleType]:
    """Import every handlers.<area> module so their subcommands and actions register.

    Returns the modules loaded; the app calls `register(app)` on those that define it (Bolt
    listeners for buttons and events of that area).
    """
    import importlib
    import pkgutil

    import handlers

    modules: list[ModuleType] = []
    for info in pkgutil.iter_modules(handlers.__path__):
        try:
            modules.append(importlib.import_module(f"handlers.{info.name}"))
        except Exception:
            # One broken area must not take the whole hub down (its commands/jobs go missing
            # and the log says why).
            logging.getLogger(__name__).exception(
                "area module failed to load module=handlers.%s", info.name
            )
    return modules
