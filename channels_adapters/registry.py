"""Channel kind → its adapter. Adapters are imported on first use and kept as singletons."""

from __future__ import annotations

from functools import cache

from django.utils.module_loading import import_string

from channels_adapters.base import ChannelAdapter

#: kind → dotted path of the adapter class. The web chat has no webhook (its adapter refuses
#: every webhook request); its messages are stored by the support page.
ADAPTERS: dict[str, str] = {
    "telegram": "channels_adapters.telegram.adapter.TelegramAdapter",
    "whatsapp": "channels_adapters.whatsapp.adapter.WhatsAppAdapter",
    "messenger": "channels_adapters.messenger.adapter.MessengerAdapter",
    "api": "channels_adapters.api.adapter.ApiAdapter",
    "email": "channels_adapters.email.adapter.EmailAdapter",
    "webchat": "channels_adapters.webchat.adapter.WebChatAdapter",
}


class UnknownChannel(LookupError):
    pass


def register(kind: str, dotted_path: str) -> None:
    """Add (or replace) the adapter of ``kind``; e.g. the e-mail channel registers itself."""
    ADAPTERS[kind] = dotted_path
    get_adapter.cache_clear()


@cache
def get_adapter(kind: str) -> ChannelAdapter:
    try:
        path = ADAPTERS[kind]
    except KeyError:
        raise UnknownChannel(kind) from None
    return import_string(path)()


def has_adapter(kind: str) -> bool:
    return kind in ADAPTERS
