"""WhatsApp message templates as Graph shapes, without the database: what a listed template
says (body, parameters, header), the fields an agent fills in (``template_slots``), the text with
them filled in, and the ``template`` part of a Cloud API send (``template_components``).

A template's variables, as Meta defines them:
- body: positional ``{{1}}``, ``{{2}}``… or named ``{{customer_name}}`` (``parameter_format``
  NAMED), sent as ``{"type": "text", "text": …}`` (plus ``parameter_name`` when named);
- header: a TEXT header with one variable (positional or named), a media header (a link), or a
  LOCATION header (latitude, longitude, optional name and address);
- URL buttons whose address ends in ``{{1}}``: the ending, sent as a ``button`` component with
  ``sub_type`` url and the button's index.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

#: ``{{1}}``, ``{{ 2 }}``: a positional parameter of a template's text.
PARAMETER = re.compile(r"{{\s*(\d+)\s*}}")
#: ``{{1}}`` or ``{{customer_name}}``: any parameter, positional or named.
ANY_PARAMETER = re.compile(r"{{\s*(\w+)\s*}}")
#: Parts of a template Omnico knows how to fill in; a template with another one (a carousel, a
#: limited-time offer) or a button that needs a value other than a link's ending (a coupon
#: code, a one-time password) is not offered.
KNOWN_COMPONENTS = {"HEADER", "BODY", "FOOTER", "BUTTONS"}
BUTTONS_WITHOUT_VALUES = {"QUICK_REPLY", "URL", "PHONE_NUMBER", "VOICE_CALL", "FLOW", "CATALOG"}
KNOWN_HEADERS = {"", "TEXT", "IMAGE", "VIDEO", "DOCUMENT", "LOCATION"}
LOCATION_FIELDS = ("latitude", "longitude", "name", "address")
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
    """How many parameters a template text takes: its highest ``{{n}}``, or its named ones."""
    return len(_placeholders(text))


def _placeholders(text: str) -> list[str]:
    """A text's parameters in sending order: ``1``…``n`` (the highest wins, gaps included), or
    the named ones in order of first use."""
    found = ANY_PARAMETER.findall(text)
    numbers = [int(name) for name in found if name.isdigit()]
    if numbers:
        return [str(n) for n in range(1, max(numbers) + 1)]
    return list(dict.fromkeys(found))


@dataclass(frozen=True)
class TemplateSlot:
    """One value an agent fills in: ``key`` names the form field and the error."""

    key: str
    component: str  # "header", "body", "button" or "location"
    placeholder: str  # "1", "customer_name", a location field, or the button's text
    named: bool = False
    button_index: int | None = None
    url: str = ""  # a URL button's address, with its ``{{1}}``

    @property
    def required(self) -> bool:
        return self.component != "location" or self.placeholder in ("latitude", "longitude")


def template_unsupported_parts(components: list[dict[str, Any]]) -> bool:
    """True when the template has a part Omnico cannot fill in (see ``KNOWN_COMPONENTS``)."""
    for component in components:
        kind = str(component.get("type", "")).upper()
        if kind not in KNOWN_COMPONENTS:
            return True
        if kind == "HEADER" and str(component.get("format") or "").upper() not in KNOWN_HEADERS:
            return True
        for button in component.get("buttons") or [] if kind == "BUTTONS" else []:
            if not isinstance(button, dict):
                return True
            if str(button.get("type", "")).upper() not in BUTTONS_WITHOUT_VALUES:
                return True
    return False


def template_slots(
    *, body_text: str, header_format: str, header_text: str, components: list[dict[str, Any]]
) -> list[TemplateSlot]:
    """Every value the template needs, in the order the composer asks for them."""
    slots: list[TemplateSlot] = []
    if header_format == "TEXT":
        slots += [
            TemplateSlot(
                key=f"header_{name}", component="header", placeholder=name, named=not name.isdigit()
            )
            for name in _placeholders(header_text)
        ]
    elif header_format == "LOCATION":
        slots += [
            TemplateSlot(key=f"location_{name}", component="location", placeholder=name)
            for name in LOCATION_FIELDS
        ]
    slots += [
        TemplateSlot(
            key=f"parameter_{name}", component="body", placeholder=name, named=not name.isdigit()
        )
        for name in _placeholders(body_text)
    ]
    for component in components:
        if str(component.get("type", "")).upper() != "BUTTONS":
            continue
        for index, button in enumerate(component.get("buttons") or []):
            url = str(button.get("url") or "") if isinstance(button, dict) else ""
            if str(button.get("type", "")).upper() == "URL" and ANY_PARAMETER.search(url):
                slots.append(
                    TemplateSlot(
                        key=f"button_{index}",
                        component="button",
                        placeholder=str(button.get("text") or url),
                        button_index=index,
                        url=url,
                    )
                )
    return slots


def template_render(text: str, values: dict[str, str], prefix: str = "parameter") -> str:
    """``text`` with each ``{{x}}`` replaced by ``values[f"{prefix}_{x}"]`` (left as is when
    missing)."""

    def fill(match: re.Match[str]) -> str:
        return values.get(f"{prefix}_{match.group(1)}", match.group(0))

    return ANY_PARAMETER.sub(fill, text)


def template_components(
    slots: list[TemplateSlot], values: dict[str, str], *, header_format: str, header_link: str
) -> list[dict[str, Any]]:
    """The ``components`` of a Cloud API template send, from checked values."""

    def text(slot: TemplateSlot) -> dict[str, Any]:
        parameter = {"type": "text", "text": values[slot.key]}
        if slot.named:
            parameter["parameter_name"] = slot.placeholder
        return parameter

    components: list[dict[str, Any]] = []
    media = MEDIA_HEADERS.get(header_format)
    header = [text(slot) for slot in slots if slot.component == "header"]
    if media and header_link:
        header = [{"type": media, media: {"link": header_link}}]
    if header_format == "LOCATION":
        location = {
            name: values[f"location_{name}"]
            for name in LOCATION_FIELDS
            if values.get(f"location_{name}")
        }
        header = [{"type": "location", "location": location}]
    if header:
        components.append({"type": "header", "parameters": header})
    body = [text(slot) for slot in slots if slot.component == "body"]
    if body:
        components.append({"type": "body", "parameters": body})
    components.extend(
        {
            "type": "button",
            "sub_type": "url",
            "index": str(slot.button_index),
            "parameters": [{"type": "text", "text": values[slot.key]}],
        }
        for slot in slots
        if slot.component == "button"
    )
    return components


def template_payload(template: dict[str, Any]) -> dict[str, Any]:
    """The ``type``/``template`` part of ``POST /{phone-number-id}/messages`` for a template
    send, from what the reply service stored on the message (``Message.meta["template"]``):
    its ready ``components``, or (a reply stored before those were kept) its body parameters
    and media link."""
    if "components" in template:
        body: dict[str, Any] = {
            "name": template["name"],
            "language": {"code": template["language"]},
        }
        if template["components"]:
            body["components"] = template["components"]
        return {"type": "template", "template": body}
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
    legacy: dict[str, Any] = {
        "name": template["name"],
        "language": {"code": template["language"]},
    }
    if components:
        legacy["components"] = components
    return {"type": "template", "template": legacy}
