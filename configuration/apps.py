from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ConfigurationConfig(AppConfig):
    name = "configuration"
    verbose_name = _("Configuration")

    def ready(self) -> None:
        from configuration import departments, webhooks

        webhooks.connect()  # the webhook endpoints, remembered per process
        departments.connect()  # the departments new tickets go to, remembered per process
