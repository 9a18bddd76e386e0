"""The assistant's side of a Slack thread: status while working, the streamed reply, feedback.

- `status(text)` → `assistant.threads.setStatus` ("pensando…", the running tool's status text);
  repeated texts are not re-sent; failures never stop the answer.
- `append(text)` streams: `chat.startStream` on the first text, then `chat.appendStream` in
  chunks (buffered so Slack's rate limits are respected).
- `finish(blocks)` ends with `chat.stopStream` (with the 👍/👎 buttons, which Slack renders
  below the streamed text). When the stream expired (`message_not_in_streaming_state`, on
  append or stop) or Slack refused a stream call, the full text, which is always kept, replaces
  the message with `chat.update`. When streaming is not available at all the reply
  is posted with `chat.postMessage`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from slack_sdk.errors import SlackApiError

if TYPE_CHECKING:
    from bot.assistant import IncomingMessage

log = logging.getLogger(__name__)

MARKDOWN_BLOCK_LIMIT = 12_000
FEEDBACK_UP = "assistant_feedback_up"
FEEDBACK_DOWN = "assistant_feedback_down"


def _error_code(exc: SlackApiError) -> str:
    try:
        return str(exc.response.get("error", ""))
    except Exception:  # pragma: no cover - defensive: odd response objects
        return ""


def feedback_blocks(ref_id: str) -> list[dict[str, Any]]:
    return [
        {
            "type": "actions",
            "block_id": "assistant_feedback",
            "elements": [
                {
                    "type": "button",
                    "action_id": FEEDBACK_UP,
                    "text": {"type": "plain_text", "text": "👍 Ajudou", "emoji": True},
                    "value": ref_id,
                },
                {
                    "type": "button",
                    "action_id": FEEDBACK_DOWN,
                    "text": {"type": "plain_text", "text": "👎 Não ajudou", "emoji": True},
                    "value": ref_id,
                },
            ],
        }
    ]


def text_blocks(text: str) -> list[dict[str, Any]]:
    """The reply as markdown blocks (Slack caps one markdown block at 12,000 characters)."""
    return [
        {"type": "markdown", "text": text[i : i + MARKDOWN_BLOCK_LIMIT]}
        for i in range(0, len(text), MARKDOWN_BLOCK_LIMIT)
    ] or [{"type": "markdown", "text": " "}]


class SlackReply:
    def __init__(self, client: Any, message: IncomingMessage, *, buffer_chars: int = 200) -> None:
        self.client = client
        self.message = message
        self.buffer_chars = buffer_chars
        self.text = ""  # everything written so far (kept for the chat.update fallback)
        self.ts: str | None = None
        self.expired = False
        self.streaming_available = True
        self.fell_back_to_update = False
        self._pending = ""
        self._last_status: str | None = None

    # --- status -------------------------------------------------------------------------------
    def status(self, text: str) -> None:
        if text == self._last_status:
            return
        self._last_status = text
        try:
            self.client.assistant_threads_setStatus(
                channel_id=self.message.channel_id,
                thread_ts=self.message.thread_ts,
                status=text,
            )
        except SlackApiError as exc:
            log.info("setStatus failed error=%s", _error_code(exc))

    # --- streaming ----------------------------------------------------------------------------
    def append(self, text: str) -> None:
        if not text:
            return
        self.text += text
        self._pending += text
        if self.ts is None and self.streaming_available:
            if self._pending.strip():
                self._start()
            return
        if len(self._pending) >= self.buffer_chars:
            self._flush()

    def _start(self) -> None:
        kwargs: dict[str, Any] = {
            "channel": self.message.channel_id,
            "thread_ts": self.message.thread_ts,
            "markdown_text": self._pending,
        }
        if not self.message.is_dm:
            kwargs["recipient_user_id"] = self.message.user_id
            if self.message.team_id:
                kwargs["recipient_team_id"] = self.message.team_id
        try:
            response = self.client.chat_startStream(**kwargs)
        except SlackApiError as exc:
            log.warning(
                "chat.startStream failed, replying without streaming error=%s", _error_code(exc)
            )
            self.streaming_available = False
            return
        self.ts = str(response["ts"])
        self._pending = ""

    def _flush(self) -> None:
        if self.ts is None or self.expired or not self._pending:
            return
        try:
            self.client.chat_appendStream(
                channel=self.message.channel_id, ts=self.ts, markdown_text=self._pending
            )
            self._pending = ""
        except SlackApiError as exc:
            # Expired (the usual case) or refused: stop streaming; the full text, which is kept,
            # replaces the message with chat.update at the end.
            log.info("stream append failed ts=%s error=%s", self.ts, _error_code(exc))
            self.expired = True

    def finish(self, blocks: list[dict[str, Any]], fallback_text: str = "") -> str | None:
        """End the reply (buttons below the text); returns the reply's ts."""
        if not self.text.strip():
            self.text = fallback_text
        if self.ts is None:
            kwargs: dict[str, Any] = {}
            if blocks:  # plain notices stay plain text; answers carry their buttons
                kwargs["blocks"] = text_blocks(self.text) + blocks
            response = self.client.chat_postMessage(
                channel=self.message.channel_id,
                thread_ts=self.message.thread_ts,
                text=self.text,
                **kwargs,
            )
            self.ts = str(response.get("ts")) if response.get("ts") else None
            return self.ts
        if not self.expired:
            try:
                self.client.chat_stopStream(
                    channel=self.message.channel_id,
                    ts=self.ts,
                    markdown_text=self._pending or None,
                    blocks=blocks or None,
                )
                self._pending = ""
                return self.ts
            except SlackApiError as exc:
                log.info("stream stop failed ts=%s error=%s", self.ts, _error_code(exc))
                self.expired = True
        self.fell_back_to_update = True
        self.client.chat_update(
            channel=self.message.channel_id,
            ts=self.ts,
            text=self.text,
            blocks=text_blocks(self.text) + blocks,
        )
        return self.ts

    def fail(self, text: str) -> str | None:
        """An error reply: in the streamed message if one exists, else a new message."""
        if self.ts is None:
            response = self.client.chat_postMessage(
                channel=self.message.channel_id, thread_ts=self.message.thread_ts, text=text
            )
            return str(response.get("ts")) if response.get("ts") else None
        self.append(("\n\n" if self.text else "") + text)
        return self.finish([])
