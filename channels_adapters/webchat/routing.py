"""Websocket route of the support page's visitors."""

from django.urls import path

from channels_adapters.webchat.consumers import VisitorConsumer

websocket_urlpatterns = [
    path("ws/visitor/<slug:name>/", VisitorConsumer.as_asgi()),  # type: ignore[arg-type]  # Channels' router
]
