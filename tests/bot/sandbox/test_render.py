from __future__ import annotations

from typing import Any

from bot.sandbox.render import mrkdwn, render_blocks


def test_mrkdwn_resolves_mentions_links_and_emoji() -> None:
    names = {"U0ADMIN001": "ana", "C0GENERAL1": "geral"}.get
    text = "<@U0ADMIN001> veja <#C0GENERAL1> e <https://x.io|o painel> :red_circle: &lt;3"
    assert (
        mrkdwn(text, lambda i: names(i) or i) == "@ana veja #geral e o painel (https://x.io) 🔴 <3"
    )


def test_blocks_render_with_numbered_buttons() -> None:
    numbered: list[str] = []

    def label(element: dict[str, Any], block_id: str) -> str:
        numbered.append(element["action_id"])
        return f"[{len(numbered)}] {element['text']['text']}"

    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "Título"}},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": "linha 1\nlinha 2"},
            "fields": [{"type": "mrkdwn", "text": "*a*"}],
            "accessory": {
                "type": "button",
                "action_id": "x",
                "text": {"type": "plain_text", "text": "Ver"},
            },
        },
        {"type": "markdown", "text": "**resposta**"},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "rodapé"}]},
        {"type": "divider"},
        {
            "type": "actions",
            "elements": [
                {"type": "button", "action_id": "ok", "text": {"type": "plain_text", "text": "OK"}},
                {"type": "static_select", "action_id": "s"},
            ],
        },
        {
            "type": "rich_text",
            "elements": [
                {
                    "type": "rich_text_list",
                    "elements": [
                        {
                            "type": "rich_text_section",
                            "elements": [{"type": "text", "text": "item"}],
                        }
                    ],
                }
            ],
        },
    ]
    assert render_blocks(blocks, label) == [
        "== Título ==",
        "linha 1",
        "linha 2",
        "  *a*",
        "[1] Ver",
        "**resposta**",
        "  (rodapé)",
        "────────",
        "[2] OK  [static_select]",
        "• item",
    ]
    assert numbered == ["x", "ok"]
