"""Websocket routes of every app, gathered in one list for omnico.asgi."""

from inbox.routing import websocket_urlpatterns as inbox_websockets

websocket_urlpatterns: list = [*inbox_websockets]
