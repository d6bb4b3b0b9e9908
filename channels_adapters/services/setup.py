"""Provider set-up: tell a channel's provider where to post its webhooks."""

from __future__ import annotations

from django.utils.translation import gettext as _

from channels_adapters.base import DeliveryError
from channels_adapters.registry import get_adapter
from configuration.models import ChannelAccount


def webhook_register(*, account: ChannelAccount, url: str) -> bool:
    """Tell the provider where to post (Telegram ``setWebhook``); raises DeliveryError."""
    adapter = get_adapter(account.kind)
    register = getattr(adapter, "register_webhook", None)
    if register is None:
        raise DeliveryError(
            _("%(kind)s webhooks are set up on the provider's side.")
            % {"kind": account.get_kind_display()},
            permanent=True,
        )
    return bool(register(account, url))
