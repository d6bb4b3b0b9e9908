from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ChannelsAdaptersConfig(AppConfig):
    name = "channels_adapters"
    verbose_name = _("Channels")

    def ready(self) -> None:
        # Registers the visitor socket's renderers (web and worker alike).
        from channels_adapters.webchat import (
            realtime,  # noqa: F401
            settings_memo,
        )

        settings_memo.connect()  # the support page's settings, remembered per process
