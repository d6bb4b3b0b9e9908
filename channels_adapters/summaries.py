"""One readable line for whatever a customer sent that Omnico does not render itself.

Telegram, WhatsApp and Messenger can send many kinds of content (locations, polls, stickers,
contacts, button presses, orders, reactions...) and add new ones every few months. Every adapter
turns such content into a line naming the type and its main content through ``summary_line``:
a formatter of this module when the type is known (``FORMATTERS``), else a generic fallback
that names the type and quotes its first text-like fields, so a type added after this release
still shows something an agent can read. The raw payload stays one click away for staff (the
message links to its stored inbound event).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from django.utils.translation import gettext as _

#: Longest summary kept (a long poll or order is cut with "…").
MAX_CHARS = 500
#: Fields read first when looking for the text of an unknown type, in this order.
TEXT_KEYS = (
    "text",
    "title",
    "body",
    "caption",
    "question",
    "name",
    "formatted_name",
    "emoji",
    "description",
    "query",
    "data",
    "payload",
    "address",
    "url",
)
#: Fields that are never worth showing: ids, hashes, file references, technical flags.
SKIP_KEYS = {
    "id",
    "type",
    "mime_type",
    "sha256",
    "file_id",
    "file_unique_id",
    "file_size",
    "hash",
    "timestamp",
    "date",
    "chat",
    "from",
    "user",
    "sender",
    "recipient",
    "is_bot",
    "language_code",
    "username",
    "width",
    "height",
    "duration",
    "locale",
    "currency",
}
Formatter = Callable[[dict[str, Any]], str]
FORMATTERS: dict[str, Formatter] = {}


def summary_line(kind: str, content: Any) -> str:
    """The readable line for content of type ``kind`` (a provider's type name)."""
    data = content if isinstance(content, dict) else {"value": content}
    formatter = FORMATTERS.get(kind)
    line = formatter(data) if formatter is not None else ""
    return _cut(line or unknown_line(kind, data))


def unknown_line(kind: str, content: Any) -> str:
    """The fallback for any type: its name and the first text-like fields in it."""
    texts = list(_texts(content))[:3]
    name = type_name(kind)
    if not texts:
        return _("%(type)s (not shown by Omnico)") % {"type": name}
    return _("%(type)s: %(content)s") % {"type": name, "content": " — ".join(texts)}


def type_name(kind: str) -> str:
    """``paid_media`` → ``Paid media``: a provider's type name as a label."""
    words = str(kind or "?").replace("_", " ").replace("-", " ").strip()
    return (words[:1].upper() + words[1:]) or "?"


def formatter(*kinds: str) -> Callable[[Formatter], Formatter]:
    def register(function: Formatter) -> Formatter:
        for kind in kinds:
            FORMATTERS[kind] = function
        return function

    return register


def _cut(line: str) -> str:
    line = line.strip()
    return line if len(line) <= MAX_CHARS else line[: MAX_CHARS - 1] + "…"


def _texts(value: Any, depth: int = 0) -> Iterator[str]:
    """Text-like values in ``value``: the ``TEXT_KEYS`` first, then any other string."""
    if depth > 4:
        return
    if isinstance(value, str):
        if value.strip():
            yield value.strip()
        return
    if isinstance(value, list):
        for item in value[:10]:
            yield from _texts(item, depth + 1)
        return
    if not isinstance(value, dict):
        return
    keys = [k for k in TEXT_KEYS if k in value]
    keys += [k for k in value if k not in TEXT_KEYS and k not in SKIP_KEYS]
    for key in keys:
        if key in SKIP_KEYS or key.endswith(("_id", "_ids", "_url", "_token")):
            continue
        item = value[key]
        if isinstance(item, bool):
            continue
        if isinstance(item, int | float) and key in {"value", "amount", "total_amount"}:
            yield str(item)
        else:
            yield from _texts(item, depth + 1)


def as_dict(value: Any) -> dict[str, Any]:
    """``value`` when it is a JSON object, else an empty one (payload fields may be anything)."""
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _first(data: dict[str, Any], *keys: str) -> str:
    for key in keys:
        value = data.get(key)
        if value not in (None, "", [], {}):
            return str(value)
    return ""


def _join(*parts: Any, sep: str = " ") -> str:
    return sep.join(str(p) for p in parts if p not in (None, ""))


def money(amount: Any, currency: Any, *, minor_units: bool = False) -> str:
    """``100, "USD"`` → ``1.00 USD`` when the amount is in minor units (Telegram)."""
    try:
        number = float(amount)
    except (TypeError, ValueError):
        return _join(amount, currency)
    if minor_units:
        number /= 100
    return _join(f"{number:.2f}", currency)


# --- the known types -------------------------------------------------------------------------


@formatter("location", "venue", "current_location", "chosen_location")
def _location(data: dict[str, Any]) -> str:
    where = as_dict(data.get("location")) or data
    coords = as_dict(where.get("coordinates")) or where
    lat = _first(coords, "latitude", "lat")
    lng = _first(coords, "longitude", "long", "lng")
    label = _join(_first(data, "title", "name"), _first(data, "address"), sep=", ")
    place = f"{lat}, {lng}" if lat or lng else ""
    if label:
        place = f"{place} ({label})" if place else label
    return _("Location: %(place)s") % {"place": place}


@formatter("contact", "contacts")
def _contact(data: dict[str, Any]) -> str:
    people = as_list(data.get("contacts")) if "contacts" in data else [data]
    shown = []
    for person in people:
        if not isinstance(person, dict):
            continue
        name_field = person.get("name")
        name = (
            _first(name_field, "formatted_name", "first_name")
            if isinstance(name_field, dict)
            else _join(person.get("first_name"), person.get("last_name"))
        )
        if not name and person.get("vcard"):
            name = next(
                (line[3:] for line in str(person["vcard"]).splitlines() if line.startswith("FN:")),
                "",
            )
        phones = [
            str(p.get("phone", "")) for p in person.get("phones") or [] if isinstance(p, dict)
        ]
        phones += [str(person["phone_number"])] if person.get("phone_number") else []
        shown.append(_join(name, ", ".join(p for p in phones if p)))
    return _("Contact: %(who)s") % {"who": "; ".join(s for s in shown if s) or "?"}


@formatter("poll")
def _poll(data: dict[str, Any]) -> str:
    options = [
        _first(o, "text") if isinstance(o, dict) else str(o) for o in data.get("options") or []
    ]
    line = _("Poll: %(question)s") % {"question": _first(data, "question")}
    return _join(line, " / ".join(o for o in options if o), sep=" — ") if options else line


@formatter("poll_answer")
def _poll_answer(data: dict[str, Any]) -> str:
    chosen = [str(int(i) + 1) for i in data.get("option_ids") or [] if isinstance(i, int)]
    if not chosen:
        return _("Poll answer withdrawn")
    return _("Poll answer: option %(options)s") % {"options": ", ".join(chosen)}


@formatter("sticker")
def _sticker(data: dict[str, Any]) -> str:
    return _join(_("Sticker"), _first(data, "emoji"))


@formatter("dice")
def _dice(data: dict[str, Any]) -> str:
    return _("Dice %(emoji)s: %(value)s") % {
        "emoji": _first(data, "emoji") or "🎲",
        "value": _first(data, "value") or "?",
    }


@formatter("story")
def _story(data: dict[str, Any]) -> str:
    chat = as_dict(data.get("chat"))
    owner = _first(chat, "title", "username", "first_name")
    return _("Story shared from %(owner)s") % {"owner": owner} if owner else _("Story shared")


@formatter("checklist")
def _checklist(data: dict[str, Any]) -> str:
    tasks = [_first(t, "text") for t in data.get("tasks") or [] if isinstance(t, dict)]
    line = _("Checklist: %(title)s") % {"title": _first(data, "title")}
    return _join(line, " / ".join(t for t in tasks if t), sep=" — ") if tasks else line


@formatter("invoice")
def _invoice(data: dict[str, Any]) -> str:
    amount = money(data.get("total_amount"), data.get("currency"), minor_units=True)
    return _("Invoice: %(title)s — %(amount)s") % {"title": _first(data, "title"), "amount": amount}


@formatter("successful_payment", "payment", "pre_checkout_query", "shipping_query")
def _payment(data: dict[str, Any]) -> str:
    if "amount" in data and isinstance(data["amount"], dict):  # Messenger: {"amount": {...}}
        amount = money(data["amount"].get("amount"), data["amount"].get("currency"))
    else:
        amount = money(data.get("total_amount"), data.get("currency"), minor_units=True)
    what = _first(data, "invoice_payload", "payload")
    return _join(_("Payment: %(amount)s") % {"amount": amount}, what and f"({what})")


@formatter("reaction", "message_reaction")
def _reaction(data: dict[str, Any]) -> str:
    emoji = _first(data, "emoji", "reaction")
    new = data.get("new_reaction")
    if isinstance(new, list):  # Telegram: [{"type": "emoji", "emoji": "👍"}, ...]
        emoji = " ".join(_first(r, "emoji", "custom_emoji_id") for r in new if isinstance(r, dict))
    if not emoji or data.get("action") == "unreact":
        return _("Reaction removed")
    return _("Reaction: %(emoji)s") % {"emoji": emoji}


@formatter("button", "button_reply", "postback", "callback_query", "quick_reply")
def _button(data: dict[str, Any]) -> str:
    label = _first(data, "title", "text", "payload", "data", "game_short_name", "id")
    return _("Button pressed: %(label)s") % {"label": label or "?"}


@formatter("list_reply")
def _list_reply(data: dict[str, Any]) -> str:
    label = _join(_first(data, "title", "id"), _first(data, "description"), sep=" — ")
    return _("Chosen from a list: %(label)s") % {"label": label}


@formatter("nfm_reply")
def _form(data: dict[str, Any]) -> str:
    import json

    try:
        answers = json.loads(str(data.get("response_json") or "{}"))
    except ValueError:
        answers = {}
    shown = ", ".join(
        f"{key}: {value}"
        for key, value in (answers.items() if isinstance(answers, dict) else [])
        if key != "flow_token"
    )
    return _("Form sent: %(answers)s") % {"answers": shown or _first(data, "body", "name")}


@formatter("order")
def _order(data: dict[str, Any]) -> str:
    items = [
        _join(f"{i.get('quantity')} ×", i.get("product_retailer_id"), _price(i))
        for i in data.get("product_items") or []
        if isinstance(i, dict)
    ]
    line = _("Order: %(items)s") % {"items": " / ".join(items) or "?"}
    return _join(line, _first(data, "text"), sep=" — ")


def _price(item: dict[str, Any]) -> str:
    price = _join(item.get("item_price"), item.get("currency"))
    return f"({price})" if price else ""


@formatter("template")
def _template(data: dict[str, Any]) -> str:
    kind = _first(data, "template_type") or ("product" if data.get("product") else "")
    texts = list(_texts({k: v for k, v in data.items() if k != "template_type"}))[:2]
    return _join(
        _("Template (%(type)s)") % {"type": kind or "?"}, " — ".join(texts), sep=": "
    ).strip()


@formatter("referral")
def _referral(data: dict[str, Any]) -> str:
    what = _join(
        _first(data, "headline", "ad_title", "ref"),
        _first(data, "source", "source_type"),
        _first(data, "source_url"),
        sep=" — ",
    )
    return _("Came from a referral: %(what)s") % {"what": what or "?"}


@formatter("optin")
def _optin(data: dict[str, Any]) -> str:
    what = _first(data, "title", "ref", "payload", "type")
    return _("Opted in to messages: %(what)s") % {"what": what} if what else _("Opted in")


@formatter("account_linking")
def _account_linking(data: dict[str, Any]) -> str:
    if data.get("status") == "unlinked":
        return _("Unlinked their account")
    return _("Linked their account")


@formatter("unsupported")
def _unsupported(data: dict[str, Any]) -> str:
    detail = _first(data, "type")
    errors = as_list(data.get("errors"))
    reason = next(
        (
            _first(as_dict(e.get("error_data")), "details") or _first(e, "title", "message")
            for e in errors
            if isinstance(e, dict)
        ),
        "",
    )
    if detail:
        return _("Message of a type the channel does not deliver (%(type)s)") % {"type": detail}
    return _join(_("Message of a type the channel does not deliver"), reason, sep=": ")


@formatter("passport_data")
def _passport(data: dict[str, Any]) -> str:
    kinds = [_first(item, "type") for item in as_list(data.get("data")) if isinstance(item, dict)]
    return _("Telegram Passport data shared: %(kinds)s") % {"kinds": ", ".join(kinds) or "?"}
