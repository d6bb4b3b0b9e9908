from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InboxConfig(AppConfig):
    name = "inbox"
    verbose_name = _("Inbox")

    def ready(self) -> None:
        # Registers the renderers of the agent screen's live fragments (web and worker alike).
        from inbox import realtime, signals  # noqa: F401
