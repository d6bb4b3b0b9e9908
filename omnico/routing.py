"""Websocket routes of every app, gathered in one list for omnico.asgi."""

websocket_urlpatterns: list = []
