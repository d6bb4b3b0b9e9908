"""WhatsApp message templates as Graph shapes, without the database: what a listed template
says (body, parameters, header), the body with its parameters filled in, and the ``template``
part of a Cloud API send."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

#: ``{{1}}``, ``{{ 2 }}``: a positional parameter of a template's text.
PARAMETER = re.compile(r"{{\s*(\d+)\s*}}")
MEDIA_HEADERS = {"IMAGE": "image", "VIDEO": "video", "DOCUMENT": "document"}


@dataclass(frozen=True)
class ListedTemplate:
    """One entry of ``GET /{WABA-ID}/message_templates``."""

    external_id: str
    name: str
    language: str
    category: str
    status: str
    body_text: str
    parameter_count: int
    header_format: str
    header_text: str
    footer_text: str
    components: list[dict[str, Any]]


def template_from_graph(item: dict[str, Any]) -> ListedTemplate | None:
    """A template of the Graph listing, or None when it lacks a name or a language."""
    name, language = str(item.get("name") or ""), str(item.get("language") or "")
    if not name or not language:
        return None
    components = [c for c in item.get("components") or [] if isinstance(c, dict)]
    parts = {str(c.get("type", "")).upper(): c for c in components}
    body = str(parts.get("BODY", {}).get("text") or "")
    header = parts.get("HEADER", {})
    return ListedTemplate(
        external_id=str(item.get("id") or ""),
        name=name[:512],
        language=language[:16],
        category=str(item.get("category") or "")[:32],
        status=str(item.get("status") or "")[:32],
        body_text=body,
        parameter_count=parameter_count(body),
        header_format=str(header.get("format") or "").upper()[:10],
        header_text=str(header.get("text") or "")[:255],
        footer_text=str(parts.get("FOOTER", {}).get("text") or "")[:255],
        components=components,
    )


def parameter_count(text: str) -> int:
    """How many parameters a template text takes: its highest ``{{n}}``."""
    return max((int(n) for n in PARAMETER.findall(text)), default=0)


def template_render(text: str, parameters: list[str]) -> str:
    """``text`` with each ``{{n}}`` replaced by ``parameters[n-1]`` (left as is when missing)."""

    def fill(match: re.Match[str]) -> str:
        index = int(match.group(1)) - 1
        return parameters[index] if 0 <= index < len(parameters) else match.group(0)

    return PARAMETER.sub(fill, text)


def template_payload(template: dict[str, Any]) -> dict[str, Any]:
    """The ``type``/``template`` part of ``POST /{phone-number-id}/messages`` for a template
    send, from what the reply service stored on the message (``Message.meta["template"]``)."""
    components: list[dict[str, Any]] = []
    media = MEDIA_HEADERS.get(str(template.get("header_format") or "").upper())
    if media and template.get("header_link"):
        components.append(
            {
                "type": "header",
                "parameters": [{"type": media, media: {"link": template["header_link"]}}],
            }
        )
    parameters = template.get("parameters") or []
    if parameters:
        components.append(
            {
                "type": "body",
                "parameters": [{"type": "text", "text": str(value)} for value in parameters],
            }
        )
    body: dict[str, Any] = {
        "name": template["name"],
        "language": {"code": template["language"]},
    }
    if components:
        body["components"] = components
    return {"type": "template", "template": body}
