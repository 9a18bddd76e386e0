"""The Claude assistant's entry point, called by the Slack event listeners (mentions and DMs).

`answer(hub, client, message)` must always produce a reply in the thread (an error reply too).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.hub import Hub


@dataclass(frozen=True)
class IncomingMessage:
    channel_id: str
    user_id: str
    text: str  # with the bot mention removed
    ts: str
    thread_ts: str  # the thread to answer in (ts itself for a new mention or DM)
    is_dm: bool
    team_id: str | None = None


NOT_CONFIGURED_TEXT = (
    "O assistente ainda não está configurado. Um administrador precisa definir "
    "`ANTHROPIC_API_KEY` no ambiente do Chegou Hub. Enquanto isso, use `/hub help`."
)


def answer(hub: Hub, client: Any, message: IncomingMessage) -> None:
    """Answer a mention or DM in its thread (replaced by the assistant loop when configured)."""
    client.chat_postMessage(
        channel=message.channel_id, thread_ts=message.thread_ts, text=NOT_CONFIGURED_TEXT
    )
