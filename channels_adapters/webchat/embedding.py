"""A support page shown in a frame on a company's own site (the embed snippet).

- **Who may frame it**: the page's "allowed embedding origins" (``SupportPage.embed_origins``).
  Its responses then send ``Content-Security-Policy: frame-ancestors 'self' <origins>`` (through
  django-csp's per-response replace) and no ``X-Frame-Options``; a page without origins, and
  every other response of the site, keep ``frame-ancestors 'none'`` and ``X-Frame-Options:
  DENY``.
- **Cookies in a third-party frame**: browsers keep no ``SameSite=Lax`` cookie there, and
  Chromium keeps no unpartitioned third-party cookie at all. So a page that allows embedding
  sets its cookies (the visitor's, the chat's answers and the CSRF token) as
  ``SameSite=None; Secure; Partitioned`` (CHIPS): kept per top-level site, so the chat on
  ``https://shop.example`` is that site's own conversation. ``Secure`` needs HTTPS; browsers
  also accept it from ``localhost``/``127.0.0.1`` over plain http (local tests). On plain http
  elsewhere the cookies stay ``Lax``: the page frames, but the chat cannot keep its visitor.
- **The visitor socket** also accepts the page's embedding origins (``visitor_socket_origins``,
  wired in ``omnico.asgi``); the agent's socket never does.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterable
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.exceptions import ImproperlyConfigured
from django.http import Http404, HttpRequest, HttpResponse
from django.http.request import split_domain_port
from django.utils.translation import gettext as _

from channels_adapters.webchat import selectors
from channels_adapters.webchat.visitor import COOKIE as VISITOR_COOKIE
from configuration.models import ChannelKind, SupportPage

_VISITOR_SOCKET = re.compile(r"^/ws/visitor/(?P<name>[-a-zA-Z0-9_]+)/$")
_LOOPBACK = {"localhost", "127.0.0.1", "[::1]"}
#: The cookies the support page sets (the chat's answers: ``views.INTAKE_COOKIE``; the chat
#: the visitor left: ``views.NEW_CHAT_COOKIE``).
_PAGE_COOKIES = re.compile(rf"^({re.escape(VISITOR_COOKIE)}|omnico_support_(new_)?\d+)$")


def embed_cookies_possible(request: HttpRequest) -> bool:
    """Whether ``Secure`` cookies can be set on this request: HTTPS, or a loopback host
    (which browsers treat as a secure context)."""
    if request.is_secure():
        return True
    domain, _port = split_domain_port(request.get_host())
    return domain in _LOOPBACK


def _cookies_for_frames(request: HttpRequest, response: HttpResponse) -> None:
    csrf_name = settings.CSRF_COOKIE_NAME
    if request.META.get("CSRF_COOKIE_NEEDS_UPDATE") and not settings.CSRF_USE_SESSIONS:
        # Set here, for frames, instead of by CsrfViewMiddleware (which would set it Lax).
        response.set_cookie(
            csrf_name,
            request.META["CSRF_COOKIE"],
            max_age=settings.CSRF_COOKIE_AGE,
            domain=settings.CSRF_COOKIE_DOMAIN,
            path=settings.CSRF_COOKIE_PATH,
            httponly=settings.CSRF_COOKIE_HTTPONLY,
        )
        request.META["CSRF_COOKIE_NEEDS_UPDATE"] = False
    for name, morsel in response.cookies.items():
        if name != csrf_name and not _PAGE_COOKIES.match(name):
            continue
        if morsel["max-age"] == 0:  # a deletion: left as it is
            continue
        morsel["secure"] = True
        # Django's set_cookie knows no Partitioned attribute (CHIPS); the Morsel writes the
        # value as it is: "SameSite=None; Partitioned".
        morsel["samesite"] = "None; Partitioned"


def embedding_apply(*, request: HttpRequest, response: HttpResponse, page: SupportPage) -> None:
    """Let the page's allowed origins frame this response, with cookies that work there."""
    origins = page.embed_origin_list
    if not origins:
        return
    replace = dict(getattr(response, "_csp_replace", None) or {})
    replace["frame-ancestors"] = ["'self'", *origins]
    response._csp_replace = replace  # type: ignore[attr-defined]  # django-csp reads it
    response.xframe_options_exempt = True  # only with the frame-ancestors above
    if embed_cookies_possible(request):
        _cookies_for_frames(request, response)


def support_page_for(request: HttpRequest, name: str | None) -> SupportPage:
    """The support page a request is for, read once per request (the view and ``embeddable``
    both need it)."""
    cached = getattr(request, "_omnico_support_page", None)
    if cached is not None and (name is None or cached.channel_account.name == name):
        return cached
    page = selectors.support_page_get(name=name)
    request._omnico_support_page = page  # type: ignore[attr-defined]
    return page


def embeddable(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A support page view (``name`` in its URL, or the default page) whose responses the
    page's allowed embedding origins may frame."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        try:
            page = support_page_for(request, kwargs.get("name"))
        except Http404:
            return response
        embedding_apply(request=request, response=response, page=page)
        return response

    return wrapped


def _page_origins(name: str) -> list[str]:
    page = (
        SupportPage.objects.filter(
            channel_account__kind=ChannelKind.WEBCHAT,
            channel_account__enabled=True,
            channel_account__name=name,
        )
        .only("embed_origins")
        .first()
    )
    return page.embed_origin_list if page is not None else []


async def visitor_socket_origins(scope: dict[str, Any]) -> Iterable[str]:
    """For ``omnico.core.origins.SameOriginValidator``: the origins a socket may come from
    besides the site's own: a support page's embedding origins, for its visitor socket only."""
    match = _VISITOR_SOCKET.match(scope.get("path", ""))
    if match is None:
        return ()
    return await database_sync_to_async(_page_origins)(match["name"])


def public_url(request: HttpRequest) -> str:
    """This site's address as customers reach it: ``OMNICO_PUBLIC_URL``, else the request's."""
    return settings.OMNICO_PUBLIC_URL or f"{request.scheme}://{request.get_host()}"


@functools.cache
def _embed_script_source() -> str:
    path = finders.find("support/embed.js")
    if not isinstance(path, str):
        raise ImproperlyConfigured("static/support/embed.js is missing")
    with open(path, encoding="utf-8") as file:
        return file.read()


def embed_script(*, page: SupportPage, base_url: str) -> str:
    """The launcher's script for ``page`` (static/support/embed.js with its settings), in the
    active language."""
    config = {
        "name": page.channel_account.name,
        "url": f"{base_url}/support/{page.channel_account.name}/",
        "origin": base_url,
        "colour": page.colour,
        "labels": {
            "open": _("Chat with %(company)s") % {"company": page.company_name},
            "close": _("Close the chat"),
            "title": _("Support · %(company)s") % {"company": page.company_name},
        },
    }
    # Safe inside a script whatever the company's name holds: no "<", no line separators.
    data = (
        json.dumps(config, ensure_ascii=True)
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
    )
    return _embed_script_source().replace("__OMNICO_EMBED_CONFIG__", data)
