"""Text out of chat messages in the shapes instrumentations send them: plain strings, lists of
content parts (``{"type": "text", "text"|"content": …}``), nested messages, and JSON strings of
any of these (OpenLLMetry writes content blocks as JSON text)."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError

from tenancy.api.parsers import unstorable_text

TEXT_KEYS = ("content", "text", "parts", "message")


def json_value(value: Any) -> Any:
    """A string holding a JSON array or object, decoded; anything else as it is. A string that
    is not JSON, or nests deeper than an API body may (``API_MAX_JSON_DEPTH``; past ~1,000 levels
    the decoder itself gives up), stays text: it is what the client sent, and never a 500."""
    if isinstance(value, str) and value[:1] in ("[", "{"):
        max_depth = settings.API_MAX_JSON_DEPTH
        try:
            decoded = json.loads(value)
            # JSON nests at most as deep as it has opening brackets: most messages need no walk.
            if value.count("[") + value.count("{") > max_depth:
                unstorable_text(decoded, max_depth=max_depth)
        except (ValueError, RecursionError, ParseError):
            return value
        return decoded
    return value


def message_text(content: Any) -> str:
    """The text of a message or its content. A string that merely looks like JSON (a user who
    asked for JSON) keeps its own text when no message text is found inside it."""
    decoded = json_value(content)
    if decoded is not content:
        return _text(decoded) or content
    return _text(content)


def _text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(text for text in (message_text(part) for part in content) if text)
    if isinstance(content, dict):
        for key in TEXT_KEYS:
            if key in content:
                return message_text(content[key])
        return ""
    return str(content)


def transcript(messages: Any) -> str:
    """Messages as ``role: text`` paragraphs (a bare string or object as its text)."""
    if not isinstance(messages, list):
        return message_text(messages)
    lines = []
    for message in messages:
        text = message_text(message)
        role = message.get("role") if isinstance(message, dict) else None
        lines.append(f"{role}: {text}" if role and text else text)
    return "\n\n".join(line for line in lines if line)
