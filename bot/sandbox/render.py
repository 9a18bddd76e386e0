"""Block Kit and Slack mrkdwn as readable terminal text (the demo console's output)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

_USER = re.compile(r"<@([UW][A-Z0-9]+)(?:\|([^>]*))?>")
_CHANNEL = re.compile(r"<#([CGD][A-Z0-9]+)(?:\|([^>]*))?>")
_SUBTEAM = re.compile(r"<!subteam\^([A-Z0-9]+)(?:\|([^>]*))?>")
_SPECIAL = re.compile(r"<!(here|channel|everyone)(?:\|[^>]*)?>")
_LINK = re.compile(r"<((?:https?|mailto):[^|>]+)(?:\|([^>]*))?>")
_EMOJI = {
    ":large_green_circle:": "🟢",
    ":large_yellow_circle:": "🟡",
    ":red_circle:": "🔴",
    ":white_circle:": "⚪",
    ":grey_question:": "❔",
    ":white_check_mark:": "✅",
    ":rotating_light:": "🚨",
    ":warning:": "⚠️",
    ":hourglass:": "⌛",
    ":x:": "❌",
    ":chart_with_upwards_trend:": "📈",
    ":moneybag:": "💰",
}


def mrkdwn(text: str, names: Callable[[str], str] | None = None) -> str:
    """Resolve mentions/links/emoji codes; leave *bold* and `code` marks as they read fine."""
    resolve = names or (lambda ident: ident)
    text = _USER.sub(lambda m: "@" + (m.group(2) or resolve(m.group(1))), text)
    text = _CHANNEL.sub(lambda m: "#" + (m.group(2) or resolve(m.group(1))), text)
    text = _SUBTEAM.sub(lambda m: "@" + (m.group(2) or m.group(1)), text)
    text = _SPECIAL.sub(lambda m: "@" + m.group(1), text)
    text = _LINK.sub(lambda m: f"{m.group(2)} ({m.group(1)})" if m.group(2) else m.group(1), text)
    for code, emoji in _EMOJI.items():
        text = text.replace(code, emoji)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _text(obj: Any, names: Callable[[str], str] | None) -> str:
    if not isinstance(obj, dict):
        return ""
    value = str(obj.get("text", ""))
    return mrkdwn(value, names) if obj.get("type") == "mrkdwn" else value


def _rich_text(elements: list[dict[str, Any]], names: Callable[[str], str] | None) -> str:
    parts: list[str] = []
    for element in elements:
        kind = element.get("type")
        if kind == "text":
            parts.append(str(element.get("text", "")))
        elif kind == "user":
            parts.append("@" + (names(element["user_id"]) if names else element["user_id"]))
        elif kind == "link":
            parts.append(str(element.get("text") or element.get("url", "")))
        elif kind == "emoji":
            parts.append(f":{element.get('name')}:")
        elif "elements" in element:
            inner = _rich_text(element["elements"], names)
            if kind == "rich_text_list":
                inner = "\n".join(f"• {line}" for line in inner.splitlines() if line)
            elif kind == "rich_text_preformatted":
                inner = f"```\n{inner}\n```"
            elif kind == "rich_text_quote":
                inner = "\n".join(f"> {line}" for line in inner.splitlines())
            parts.append(inner + ("\n" if kind != "rich_text_section" else ""))
    return "".join(parts)


def render_blocks(
    blocks: list[dict[str, Any]],
    button_label: Callable[[dict[str, Any], str], str],
    names: Callable[[str], str] | None = None,
) -> list[str]:
    """Lines for `blocks`; `button_label(element, block_id)` numbers each button."""
    lines: list[str] = []
    for block in blocks:
        kind = block.get("type")
        block_id = str(block.get("block_id", ""))
        if kind == "header":
            lines.append(f"== {_text(block.get('text'), names)} ==")
        elif kind == "section":
            if block.get("text"):
                lines.extend(_text(block["text"], names).splitlines())
            for item in block.get("fields") or []:
                lines.append("  " + _text(item, names))
            accessory = block.get("accessory")
            if isinstance(accessory, dict) and accessory.get("type") == "button":
                lines.append(button_label(accessory, block_id))
        elif kind == "context":
            texts = [
                _text(e, names) if e.get("type") in ("mrkdwn", "plain_text") else "[imagem]"
                for e in block.get("elements", [])
            ]
            lines.append("  (" + " · ".join(texts) + ")")
        elif kind == "divider":
            lines.append("────────")
        elif kind == "actions":
            labels = []
            for element in block.get("elements", []):
                if element.get("type") == "button":
                    labels.append(button_label(element, block_id))
                else:
                    labels.append(f"[{element.get('type')}]")
            lines.append("  ".join(labels))
        elif kind == "image":
            lines.append(f"[imagem: {block.get('alt_text', '')}]")
        elif kind == "rich_text":
            lines.extend(_rich_text(block.get("elements", []), names).rstrip().splitlines())
        elif kind == "markdown":
            lines.extend(mrkdwn(str(block.get("text", "")), names).splitlines())
        elif kind == "input":
            lines.append(f"[campo: {_text(block.get('label'), names)}]")
        else:
            lines.append(f"[{kind}]")
    return lines
