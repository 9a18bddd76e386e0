"""The Claude assistant's entry point, called by the Slack event listeners (mentions and DMs).

`answer(hub, client, message)` always produces a reply in the thread (an error reply too):

1. not configured → how to configure it; empty question → a hint;
2. input longer than `assistant_max_input_chars` → a clear message (not counted);
3. over the per-user rate limit → a clear message with the wait (not counted);
4. otherwise: status "pensando…", then the thread's turn (`bot.assistant.lease`: one question
   per thread at a time, on this instance and every other one sharing the database; a question
   arriving while the thread is busy waits up to `assistant_thread_wait_seconds`, then is told
   to send again), the thread's conversation from the database, the tool loop
   (`bot.assistant.loop`) streaming its text into the thread, usage recorded per response
   (and handed to the AI spend area), the turn stored, 👍/👎 buttons under the answer.
Any failure becomes a pt-BR reply with a reference id that is also in the log.
"""

from __future__ import annotations

import logging
import uuid
from contextlib import ExitStack
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from anthropic.types import Message

    from bot.assistant.reply import SlackReply
    from bot.hub import Hub

log = logging.getLogger(__name__)


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
EMPTY_TEXT = (
    "Oi! Pode perguntar em português mesmo, por exemplo: “quanto gastamos com OpenAI esta "
    "semana?” ou “como cancelo pedidos duplicados?”. Os comandos estão em `/hub help`."
)
PROPOSED_TEXT = (
    "Cartão de confirmação publicado na conversa. Nada acontece até uma pessoa com "
    "permissão clicar em Confirmar."
)

OUTCOME_NOTES = {
    "cut": (
        "_(A resposta foi cortada por ficar longa demais. Peça “continue” ou uma versão resumida.)_"
    ),
    "context_exceeded": (
        "_(Esta conversa ficou longa demais para eu continuar. Comece uma conversa nova: "
        "me mencione fora desta thread ou mande uma mensagem direta.)_"
    ),
    "rounds_exhausted": (
        "_(Parei antes de terminar: a pergunta precisou de etapas demais. Tente uma pergunta "
        "mais específica.)_"
    ),
}
REFUSAL_TEXT = (
    "Desculpe, não posso ajudar com esse pedido. Se foi um mal-entendido, reformule a pergunta "
    "ou fale com um administrador do hub."
)
EMPTY_ANSWER_TEXT = "Não consegui formular uma resposta. Pode reformular a pergunta?"
BUSY_TEXT = (
    "⏳ Ainda estou respondendo à mensagem anterior desta thread. Mande a sua de novo daqui a "
    "pouco, quando a resposta terminar. (referência `{ref}`)"
)


def _error_text(exc: Exception, ref: str) -> str:
    from integrations.runtime.errors import IntegrationError, user_message

    if isinstance(exc, IntegrationError):
        what = user_message(exc)
    else:
        what = (
            "Algo deu errado do meu lado ao responder. Tente de novo; se repetir, avise um admin."
        )
    return f"⚠️ {what} (referência `{ref}`)"


def _count(n: int) -> str:
    """A count the Brazilian way (4.000)."""
    return f"{n:,}".replace(",", ".")


def answer(hub: Hub, client: Any, message: IncomingMessage) -> None:
    """Answer a mention or DM in its thread; never raises, always replies."""
    from bot.assistant.reply import SlackReply

    ref = uuid.uuid4().hex[:10]
    reply = SlackReply(client, message)
    try:
        _answer(hub, message, reply, ref)
    except Exception as exc:
        from integrations.runtime.errors import IntegrationError

        # An upstream failure (Claude down, key refused) is expected: no traceback for it.
        log.log(
            logging.WARNING if isinstance(exc, IntegrationError) else logging.ERROR,
            "assistant failed ref=%s channel=%s thread=%s category=%s error=%s",
            ref,
            message.channel_id,
            message.thread_ts,
            getattr(exc, "category", "internal"),
            exc if isinstance(exc, IntegrationError) else type(exc).__name__,
            exc_info=not isinstance(exc, IntegrationError),
        )
        _finish_request(hub, ref, "failed", error=exc)
        try:
            reply.fail(_error_text(exc, ref))
        except Exception:
            log.exception("assistant could not deliver its error reply ref=%s", ref)


def _answer(hub: Hub, message: IncomingMessage, reply: SlackReply, ref: str) -> None:
    from bot.assistant import ratelimit
    from bot.assistant.lease import ThreadBusy, hold_thread, lease_owner
    from bot.assistant.models import AssistantRequest
    from bot.db import session_scope
    from integrations.claude.integration import CLAUDE

    settings = hub.settings
    text = message.text.strip()
    if not CLAUDE.is_configured(settings):
        reply.finish([], fallback_text=NOT_CONFIGURED_TEXT)
        return
    if not text:
        reply.finish([], fallback_text=EMPTY_TEXT)
        return

    def record(status: str) -> None:
        with session_scope(hub.engine) as session:
            session.add(
                AssistantRequest(
                    ref_id=ref,
                    user_id=message.user_id,
                    channel_id=message.channel_id,
                    thread_ts=message.thread_ts,
                    status=status,
                    created_at=hub.clock.now(),
                )
            )

    if len(text) > settings.assistant_max_input_chars:
        record("too_long")
        reply.finish(
            [],
            fallback_text=(
                f"✂️ Sua mensagem tem {_count(len(text))} caracteres; o limite é "
                f"{_count(settings.assistant_max_input_chars)}. Resuma a pergunta ou divida em "
                "partes (para dados grandes, use os comandos `/hub` de exportação)."
            ),
        )
        return
    decision = ratelimit.check(hub, message.user_id)
    if not decision.allowed:
        record("rate_limited")
        reply.finish(
            [],
            fallback_text=ratelimit.limit_message(
                decision, settings.assistant_rate_limit_window_seconds
            ),
        )
        return
    record("accepted")
    reply.status("pensando…")
    # Questions in the same thread run one at a time, here and on every other instance: their
    # turns must not interleave. The next one waits (bounded) and then sees the whole thread.
    with ExitStack() as turn:
        try:
            turn.enter_context(
                hold_thread(
                    hub,
                    message.channel_id,
                    message.thread_ts,
                    owner=lease_owner(ref),
                    started_by=message.user_id,
                    wait_seconds=settings.assistant_thread_wait_seconds,
                )
            )
        except ThreadBusy as busy:
            log.warning(
                "assistant thread busy ref=%s channel=%s thread=%s waited=%.0fs",
                ref,
                message.channel_id,
                message.thread_ts,
                busy.waited,
            )
            _finish_request(hub, ref, "busy")
            reply.finish([], fallback_text=BUSY_TEXT.format(ref=ref))
            return
        _run(hub, message, reply, ref)


def _run(hub: Hub, message: IncomingMessage, reply: SlackReply, ref: str) -> None:
    """One accepted question: the loop, the reply, then the turn stored in one transaction."""
    from bot.assistant.builtin_tools import CONSULTED_GUIDES, discover_tools
    from bot.assistant.conversations import ConversationStore, estimate_tokens
    from bot.assistant.loop import AssistantLoop, LoopCallbacks
    from bot.assistant.prompts import context_block
    from bot.assistant.reply import feedback_blocks
    from bot.security.roles import resolve_role
    from integrations.claude.client import ClaudeClient
    from integrations.runtime.tools import ToolContext

    settings = hub.settings
    store = ConversationStore(hub)
    conversation = store.load(message.channel_id, message.thread_ts, message.user_id)
    role = resolve_role(settings, message.user_id)
    question: dict[str, Any] = {
        "role": "user",
        "content": [
            {
                "type": "text",
                "text": context_block(
                    now=hub.clock.now().astimezone(settings.tz),
                    tz_name=settings.hub_time_zone,
                    user_id=message.user_id,
                    role_label=role.label,
                    is_dm=message.is_dm,
                    channel_id=message.channel_id,
                ),
            },
            {"type": "text", "text": message.text.strip()},
        ],
    }
    history = store.history(conversation, reserve_tokens=estimate_tokens(question["content"]))
    context = ToolContext(
        user_id=message.user_id,
        channel_id=message.channel_id,
        thread_ts=message.thread_ts,
        propose=_proposer(hub, reply.client, message, role),
        extra={"request_ref": ref, "role": role},
    )
    usage_rows: list[Any] = []
    loop = AssistantLoop(
        hub,
        ClaudeClient.from_hub(hub),
        discover_tools(hub),
        context,
        LoopCallbacks(
            on_status=reply.status,
            on_text=reply.append,
            on_usage=lambda response: usage_rows.append(record_usage(hub, message, ref, response)),
        ),
    )
    try:
        result = loop.run(history, question)
    except Exception as exc:
        # Keep the question so a follow-up ("tenta de novo") still has its context.
        store.save_turn(
            conversation,
            [question],
            extra_rows=usage_rows,
            finalize=partial(_update_request, ref=ref, status="failed", error=exc),
        )
        raise
    notes = OUTCOME_NOTES.get(result.outcome)
    if result.outcome == "refused":
        reply.append(("\n\n" if reply.text else "") + REFUSAL_TEXT)
    else:
        guides = context.extra.get(CONSULTED_GUIDES) or []
        if reply.text.strip() and guides and not any(g in reply.text for g in guides):
            # The model forgot to cite: name what it read (honestly: "consultados").
            listed = ", ".join(f"*{g}*" for g in guides[:3])
            reply.append(f"\n\n_Guias consultados: {listed}._")
        if notes:
            reply.append(("\n\n" if reply.text else "") + notes)
    reply_ts = reply.finish(feedback_blocks(ref), fallback_text=EMPTY_ANSWER_TEXT)
    store.save_turn(
        conversation,
        result.new_messages,
        extra_rows=usage_rows,
        finalize=lambda session: _update_request(
            session,
            ref,
            result.outcome,
            stop_reason=result.stop_reason,
            rounds=result.rounds,
            tool_calls=len(result.tool_calls),
            reply_ts=reply_ts,
        ),
    )


def _proposer(hub: Hub, client: Any, message: IncomingMessage, role: Any) -> Any:
    """ToolContext.propose: store a pending action and post its confirmation card in the thread.

    Nothing executes here: the hub checks the clicker's role and re-validates at confirm time.
    """

    def propose(kind: str, args: dict[str, Any]) -> str:
        from bot.security.confirmations import post_proposal

        post_proposal(
            hub,
            client,
            kind,
            args,
            requester=message.user_id,
            channel=message.channel_id,
            thread_ts=message.thread_ts,
            role=role,
        )
        return PROPOSED_TEXT

    return propose


def record_usage(hub: Hub, message: IncomingMessage, ref: str, response: Message) -> Any:
    """One response's tokens per user and thread, handed to AI spend at once (which prices and
    stores them); returns the assistant's own usage row, stored with the turn."""
    from bot.assistant.models import AssistantUsage

    usage = response.usage
    tokens = {
        "input_tokens": int(usage.input_tokens or 0),
        "cache_creation_input_tokens": int(usage.cache_creation_input_tokens or 0),
        "cache_read_input_tokens": int(usage.cache_read_input_tokens or 0),
        "output_tokens": int(usage.output_tokens or 0),
    }
    now = hub.clock.now()
    cost = None
    try:
        from integrations.ai_costs.hub_usage import record_claude_usage

        cost = record_claude_usage(
            hub,
            user_id=message.user_id,
            channel_id=message.channel_id,
            thread_ts=message.thread_ts,
            model=str(response.model),
            at=now,
            **tokens,
        )
    except Exception:
        log.exception("could not hand assistant usage to AI spend ref=%s", ref)
    return AssistantUsage(
        request_ref=ref,
        user_id=message.user_id,
        channel_id=message.channel_id,
        thread_ts=message.thread_ts,
        model=str(response.model),
        cost_usd=cost,
        created_at=now,
        **tokens,
    )


def _update_request(
    session: Any,
    ref: str,
    status: str,
    *,
    stop_reason: str | None = None,
    rounds: int = 0,
    tool_calls: int = 0,
    reply_ts: str | None = None,
    error: Exception | None = None,
) -> None:
    from sqlmodel import select

    from bot.assistant.models import AssistantRequest

    row = session.exec(select(AssistantRequest).where(AssistantRequest.ref_id == ref)).first()
    if row is None:
        return
    row.status = status
    row.stop_reason = stop_reason
    row.rounds = rounds
    row.tool_calls = tool_calls
    row.reply_ts = reply_ts
    row.error_category = getattr(error, "category", None) or (
        type(error).__name__[:32] if error else None
    )
    session.add(row)


def _finish_request(hub: Hub, ref: str, status: str, *, error: Exception | None = None) -> None:
    from bot.db import session_scope

    try:
        with session_scope(hub.engine) as session:
            _update_request(session, ref, status, error=error)
    except Exception:
        log.exception("could not update the assistant request ref=%s", ref)
