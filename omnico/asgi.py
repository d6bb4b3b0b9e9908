import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "omnico.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from channels_adapters.asgi import WebhookFastPath  # noqa: E402
from channels_adapters.webchat.embedding import visitor_socket_origins  # noqa: E402
from omnico.core.gc_freeze import freeze_startup_objects  # noqa: E402
from omnico.core.origins import SameOriginValidator  # noqa: E402
from omnico.routing import websocket_urlpatterns  # noqa: E402


def build_application() -> ProtocolTypeRouter:
    # Webhook POSTs skip Django's middleware stack unless OMNICO_WEBHOOK_FAST_PATH is off
    # (why, what it skips: channels_adapters/asgi.py).
    http = (
        WebhookFastPath(django_asgi_app) if settings.OMNICO_WEBHOOK_FAST_PATH else django_asgi_app
    )
    return ProtocolTypeRouter(
        {
            "http": http,
            # The full origin (scheme, host, port): omnico/core/origins.py; a support page's
            # visitor socket also from its allowed embedding origins.
            "websocket": SameOriginValidator(
                AuthMiddlewareStack(URLRouter(websocket_urlpatterns)),
                extra_origins=visitor_socket_origins,
            ),
        }
    )


application = build_application()
# Everything imported and built above lives as long as the process: out of the collector's walk.
freeze_startup_objects()
