"""Outbound HTTP for adapters: one place that maps provider answers to DeliveryError."""

from __future__ import annotations

import json
from typing import Any

import httpx
from django.conf import settings

from channels_adapters.base import DeliveryError, InboundError

TIMEOUT = httpx.Timeout(10.0, connect=5.0)

#: The deepest nesting of objects and lists a webhook body may have. Providers' updates nest a
#: handful of levels; a body nested hundreds deep is an attack on the parsers (and on every
#: recursive walk after them: python-telegram-bot's ``de_json``, ``copy.deepcopy``).
MAX_JSON_DEPTH = 32


def load_json(body: bytes) -> dict[str, Any]:
    """A webhook body as a JSON object, or InboundError (the webhook answers 400)."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InboundError(f"malformed JSON: {exc}") from None
    except RecursionError:
        raise InboundError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from None
    if not isinstance(data, dict):
        raise InboundError("the body must be a JSON object")
    if _depth_over(data, MAX_JSON_DEPTH):
        raise InboundError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    return data


def _depth_over(data: Any, limit: int) -> bool:
    """True when ``data`` nests objects/lists deeper than ``limit`` (walked without recursion)."""
    level: list[Any] = [data]
    for _depth in range(limit):
        level = [
            child
            for value in level
            for child in (value.values() if isinstance(value, dict) else value)
            if isinstance(child, dict | list)
        ]
        if not level:
            return False
    return True


def _error_text(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text[:300]
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict):
            return str(error.get("message") or error.get("title") or error)[:300]
        if error:
            return str(error)[:300]
        if data.get("description"):  # Telegram
            return str(data["description"])[:300]
    return response.text[:300]


def post_json(url: str, payload: dict, *, headers: dict[str, str] | None = None) -> Any:
    """POST JSON; 4xx → permanent DeliveryError, 5xx/429/network → transient one."""
    try:
        response = httpx.post(url, json=payload, headers=headers or {}, timeout=TIMEOUT)
    except httpx.HTTPError as exc:
        raise DeliveryError(f"{type(exc).__name__}: could not reach the provider") from None
    return _answer(response)


def post_raw(url: str, body: bytes, *, headers: dict[str, str]) -> Any:
    try:
        response = httpx.post(url, content=body, headers=headers, timeout=TIMEOUT)
    except httpx.HTTPError as exc:
        raise DeliveryError(f"{type(exc).__name__}: could not reach the provider") from None
    return _answer(response)


def _answer(response: httpx.Response) -> Any:
    if response.status_code >= 400:
        permanent = response.status_code < 500 and response.status_code not in (408, 429)
        raise DeliveryError(
            f"HTTP {response.status_code}: {_error_text(response)}", permanent=permanent
        )
    if not response.content:
        return {}
    try:
        return response.json()
    except ValueError:
        return {}


def get_bytes(url: str, *, headers: dict[str, str] | None = None) -> bytes | None:
    """Download a file of at most ``settings.OMNICO_MAX_ATTACHMENT_BYTES``; None on any failure
    (the caller keeps a pending reference and tries again later)."""
    limit = settings.OMNICO_MAX_ATTACHMENT_BYTES
    try:
        with httpx.stream(
            "GET", url, headers=headers or {}, timeout=TIMEOUT, follow_redirects=True
        ) as response:
            if response.status_code != 200:
                return None
            chunks, size = [], 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > limit:
                    return None
                chunks.append(chunk)
    except httpx.HTTPError:
        return None
    return b"".join(chunks)


def get_json(url: str, *, headers: dict[str, str] | None = None) -> Any:
    try:
        response = httpx.get(url, headers=headers or {}, timeout=TIMEOUT)
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    try:
        return response.json()
    except ValueError:
        return None
