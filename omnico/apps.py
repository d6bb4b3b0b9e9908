from django.apps import AppConfig


class OmnicoConfig(AppConfig):
    name = "omnico"
    verbose_name = "Omnico"
