from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ConfigurationConfig(AppConfig):
    name = "configuration"
    verbose_name = _("Configuration")

    def ready(self) -> None:
        from configuration import webhooks

        webhooks.connect()  # the webhook endpoints, remembered per process
