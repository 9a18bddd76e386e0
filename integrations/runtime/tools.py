"""What an integration contributes to the assistant: tools with JSON-schema inputs.

Each service package may have a `tools.py` with `def get_tools(hub) -> list[Tool]`, returning
nothing when the service is not configured. Read tools run; proposal tools may only call
`ctx.propose(...)`, which creates a confirmation card for a human: the model never executes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass
class ToolContext:
    user_id: str
    channel_id: str
    thread_ts: str | None
    # propose(kind, args) -> short pt-BR text saying a confirmation card was posted.
    propose: Callable[[str, dict[str, Any]], str]
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    input_schema: dict[str, Any]
    run: Callable[[ToolContext, dict[str, Any]], Any]  # returns JSON-serialisable data
    kind: Literal["read", "proposal"] = "read"
    integration: str | None = None
    status_text: str = "consultando dados…"  # shown in Slack while the tool runs
