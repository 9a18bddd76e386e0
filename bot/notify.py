"""Posting to channels without a user in the loop (jobs, alerts)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


class Notifier(Protocol):
    def post(
        self,
        channel: str,
        text: str,
        blocks: list[dict[str, Any]] | None = None,
        thread_ts: str | None = None,
    ) -> str | None:
        """Post a message; returns its ts when known."""
        ...

    def upload(
        self,
        channel: str,
        filename: str,
        content: bytes,
        *,
        title: str | None = None,
        comment: str | None = None,
        thread_ts: str | None = None,
    ) -> None: ...


@dataclass
class RecordingNotifier:
    """A Notifier that keeps what was posted (tests, dry runs)."""

    posts: list[dict[str, Any]] = field(default_factory=list)
    uploads: list[dict[str, Any]] = field(default_factory=list)

    def post(
        self,
        channel: str,
        text: str,
        blocks: list[dict[str, Any]] | None = None,
        thread_ts: str | None = None,
    ) -> str | None:
        ts = f"{1_800_000_000 + len(self.posts)}.000100"
        self.posts.append(
            {"channel": channel, "text": text, "blocks": blocks, "thread_ts": thread_ts, "ts": ts}
        )
        return ts

    def upload(
        self,
        channel: str,
        filename: str,
        content: bytes,
        *,
        title: str | None = None,
        comment: str | None = None,
        thread_ts: str | None = None,
    ) -> None:
        self.uploads.append(
            {
                "channel": channel,
                "filename": filename,
                "content": content,
                "title": title,
                "comment": comment,
                "thread_ts": thread_ts,
            }
        )


class SlackNotifier:
    """A Notifier that posts through the Slack Web API (jobs, alerts)."""

    def __init__(self, client: Any) -> None:
        self.client = client  # slack_sdk.WebClient (kept untyped: slack_sdk is imported lazily)

    def post(
        self,
        channel: str,
        text: str,
        blocks: list[dict[str, Any]] | None = None,
        thread_ts: str | None = None,
    ) -> str | None:
        response = self.client.chat_postMessage(
            channel=channel, text=text, blocks=blocks, thread_ts=thread_ts
        )
        ts = response.get("ts")
        return str(ts) if ts else None

    def upload(
        self,
        channel: str,
        filename: str,
        content: bytes,
        *,
        title: str | None = None,
        comment: str | None = None,
        thread_ts: str | None = None,
    ) -> None:
        self.client.files_upload_v2(
            channel=channel,
            filename=filename,
            content=content,
            title=title or filename,
            initial_comment=comment,
            thread_ts=thread_ts,
        )
