"""Websocket routes of the agent screen."""

from django.urls import path

from inbox.consumers import AgentConsumer

websocket_urlpatterns = [
    path("ws/agent/", AgentConsumer.as_asgi()),  # type: ignore[arg-type]  # Channels' router
]
