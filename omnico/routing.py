"""Websocket routes of every app, gathered in one list for omnico.asgi."""

from channels_adapters.webchat.routing import websocket_urlpatterns as visitor_websockets
from inbox.routing import websocket_urlpatterns as inbox_websockets

websocket_urlpatterns: list = [*inbox_websockets, *visitor_websockets]
