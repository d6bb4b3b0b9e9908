"""The public support page: ``/support/`` and ``/support/<account name>/``.

No login. The visitor is the one in the signed cookie (``webchat.visitor``); every view reads
and writes only that visitor's conversation, whatever ids a request carries. Steps: group type
(cards) -> subject -> name and e-mail or phone (optional) -> the chat; a list with one entry
skips its step. CSRF on every form.
"""

from __future__ import annotations

import dataclasses
import hashlib
import mimetypes
import uuid
from collections.abc import Callable
from datetime import datetime

from django.conf import settings
from django.contrib import messages
from django.core import signing
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_POST

from channels_adapters.webchat import aftercare, offline_views, selectors, services
from channels_adapters.webchat.embedding import (
    embed_script,
    embeddable,
    public_url,
    support_page_for,
)
from channels_adapters.webchat.limits import (
    support_limited_message,
    support_limited_response,
    support_throttle,
)
from channels_adapters.webchat.visitor import (
    MAX_AGE_SECONDS,
    visitor_from_request,
    visitor_new,
    visitor_set_cookie,
)
from configuration.models import SupportPage
from omnico.core.http import stored_file_response
from tickets.attachments import INLINE_IMAGE_TYPES
from tickets.feedback import ticket_can_be_rated

INTAKE_COOKIE = "omnico_support_{account}"
INTAKE_SALT = "omnico.webchat.intake"


def _intake(request: HttpRequest, page: SupportPage) -> services.Intake | None:
    raw = request.COOKIES.get(INTAKE_COOKIE.format(account=page.channel_account_id))
    if not raw:
        return None
    try:
        data = signing.loads(raw, salt=INTAKE_SALT, max_age=MAX_AGE_SECONDS)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or data.get("visitor") != visitor_from_request(request):
        return None  # another visitor's answers (a copied cookie) are not this visitor's
    return services.Intake.from_dict(data)


def _labels() -> dict[str, str]:
    """The chat script's words, in the page's language (support.js reads them)."""
    return {
        "sending": _("Sending…"),
        "delivered": _("Delivered"),
        "failed": _("Not sent"),
        "retry": _("Retry"),
        "too_big": services.upload_too_big_message(),
        "upload_failed": _("The file could not be sent."),
        "max_bytes": str(settings.OMNICO_SUPPORT_UPLOAD_MAX_BYTES),
    }


def _pick(options: list, raw: str | None):
    """The option chosen in the query string; the only one when there is one; else None."""
    if len(options) == 1:
        return options[0]
    for option in options:
        if raw is not None and str(option.pk) == raw:
            return option
    return None


def _urls(page: SupportPage) -> dict[str, str]:
    name = page.channel_account.name
    return {
        "page": reverse("support:page", args=[name]),
        "start": reverse("support:start", args=[name]),
        "messages": reverse("support:messages", args=[name]),
        "history": reverse("support:history", args=[name]),
        "queue": reverse("support:queue", args=[name]),
        "upload": reverse("support:upload", args=[name]),
        "theme": reverse("support:theme", args=[name]),
        "logo": reverse("support:logo", args=[name]) if page.logo else "",
        "socket": f"/ws/visitor/{name}/",
    }


def _queue(conversation: selectors.Conversation) -> selectors.QueueStatus | None:
    """The visitor's place in the pool while their ticket waits there (the socket updates it)."""
    ticket = conversation.ticket
    return selectors.visitor_queue(ticket_id=ticket.pk if ticket is not None else None)


@require_GET
@embeddable
def support_page(request: HttpRequest, name: str | None = None) -> HttpResponse:
    page = support_page_for(request, name)
    offline = offline_views.offline_page(request, page)
    if offline is not None:
        return offline
    visitor_id = visitor_from_request(request)
    context: dict = {"page": page, "urls": _urls(page)}
    conversation = None
    dismissed = False
    if visitor_id is not None:
        conversation = selectors.visitor_conversation(
            account_id=page.channel_account_id, visitor_id=visitor_id
        )
        conversation, dismissed = _without_dismissed(request, page, visitor_id, conversation)
    if conversation is not None and (conversation.entries or _intake(request, page)):
        if conversation.ticket is not None and visitor_id is not None:
            services.visitor_replies_shown(
                account=page.channel_account,
                visitor_id=visitor_id,
                ticket_id=conversation.ticket.pk,
            )
        context.update(
            step="chat",
            conversation=conversation,
            labels=_labels(),
            client_id=uuid.uuid4(),
            queue=_queue(conversation),
        )
        context.update(_aftercare(request, page, visitor_id, conversation, dismissed))
        return render(request, "support/page.html", context)
    group_types = selectors.group_types_for_visitors()
    group_type = _pick(group_types, request.GET.get("group_type"))
    if group_types and group_type is None:
        context.update(step="group_type", group_types=group_types)
        return render(request, "support/page.html", context)
    subjects = selectors.subjects_for_visitors()
    subject = _pick(subjects, request.GET.get("subject"))
    if subjects and subject is None:
        context.update(step="subject", subjects=subjects, group_type=group_type)
        return render(request, "support/page.html", context)
    context.update(step="contact", group_type=group_type, subject=subject)
    return render(request, "support/page.html", context)


def _chosen_id(raw: str | None, options: list) -> int | None:
    ids = {option.pk for option in options}
    try:
        value = int(raw or "")
    except ValueError:
        return None
    return value if value in ids else None


@require_POST
@embeddable
def support_start(request: HttpRequest, name: str) -> HttpResponse:
    page = support_page_for(request, name)
    group_types = selectors.group_types_for_visitors()
    subjects = selectors.subjects_for_visitors()
    retry_after = support_throttle(request, action="start")
    try:
        if retry_after is not None:
            raise services.VisitorMessageError(support_limited_message())
        intake = services.intake_clean(
            group_type_id=_chosen_id(request.POST.get("group_type"), group_types),
            subject_id=_chosen_id(request.POST.get("subject"), subjects),
            name=request.POST.get("name", ""),
            email=request.POST.get("email", ""),
            phone=request.POST.get("phone", ""),
        )
    except services.VisitorMessageError as exc:
        context = {
            "page": page,
            "urls": _urls(page),
            "step": "contact",
            "error": str(exc),
            "group_type": _pick(group_types, request.POST.get("group_type")),
            "subject": _pick(subjects, request.POST.get("subject")),
            "values": request.POST,
        }
        response = render(
            request, "support/page.html", context, status=400 if retry_after is None else 429
        )
        if retry_after is not None:
            response["Retry-After"] = str(retry_after)
        return response
    visitor_id = visitor_from_request(request) or visitor_new()
    if intake.email or request.POST.get("notify_away") == "on":
        try:
            aftercare.visitor_preferences_set(
                account=page.channel_account,
                visitor_id=visitor_id,
                email=intake.email,
                notify_away=request.POST.get("notify_away") == "on",
                language=translation.get_language() or settings.LANGUAGE_CODE,
            )
        except aftercare.AftercareError:
            messages.error(request, _("Give an e-mail address to get replies while away."))
    response = redirect(_urls(page)["page"])
    visitor_set_cookie(request, response, visitor_id)
    response.set_cookie(
        INTAKE_COOKIE.format(account=page.channel_account_id),
        signing.dumps({**intake.as_dict(), "visitor": visitor_id}, salt=INTAKE_SALT),
        max_age=MAX_AGE_SECONDS,
        httponly=True,
        samesite="Lax",
        secure=request.is_secure(),
    )
    return response


def _still_offered(intake: services.Intake, choices: selectors.VisitorChoices) -> services.Intake:
    """A group type or subject switched off since the visitor chose it is simply not set
    (checked against ``choices``, what the per-process memo says is offered: no query)."""
    return dataclasses.replace(
        intake,
        group_type_id=(
            intake.group_type_id if intake.group_type_id in choices.group_type_ids else None
        ),
        subject_id=intake.subject_id if intake.subject_id in choices.subject_ids else None,
    )


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


@require_POST
def support_message(request: HttpRequest, name: str) -> HttpResponse:
    """A visitor's message: answered once it is stored (the page shows it delivered)."""
    # The process's remembered page, read only (not a copy, and not left on the request for
    # support_page_for's callers), with what its visitors may choose: one memo look-up.
    page, choices = selectors.support_page_and_choices(name=name)
    visitor_id = visitor_from_request(request)
    intake = _intake(request, page)
    if visitor_id is None or intake is None:
        if _wants_json(request):
            return JsonResponse({"error": "start"}, status=403)
        return redirect(_urls(page)["page"])
    retry_after = support_throttle(request, action="message")
    if retry_after is not None:
        return support_limited_response(request, retry_after=retry_after)
    intake = _still_offered(intake, choices)
    try:
        services.visitor_message_post(
            account=page.channel_account,
            visitor_id=visitor_id,
            client_id=request.POST.get("client_id", ""),
            text=request.POST.get("text", ""),
            intake=intake,
        )
    except services.VisitorMessageError as exc:
        if _wants_json(request):
            return JsonResponse({"error": str(exc)}, status=400)
        return redirect(_urls(page)["page"])
    if _wants_json(request):
        return JsonResponse({"state": "delivered"})
    return redirect(_urls(page)["page"])


@require_GET
def support_history(request: HttpRequest, name: str) -> HttpResponse:
    """The visitor's conversation as a fragment: what the page missed while disconnected."""
    page = support_page_for(request, name)
    visitor_id = visitor_from_request(request)
    if visitor_id is None:
        raise Http404("no visitor")
    conversation = selectors.visitor_conversation(
        account_id=page.channel_account_id, visitor_id=visitor_id
    )
    conversation, dismissed = _without_dismissed(request, page, visitor_id, conversation)
    ticket = conversation.ticket
    if ticket is not None:
        services.visitor_replies_shown(
            account=page.channel_account, visitor_id=visitor_id, ticket_id=ticket.pk
        )
    response = render(request, "support/fragments/entries.html", {"conversation": conversation})
    # The chat ended while the page was not listening (a dropped socket, a missed frame): the
    # page asks for the rating after this re-fetch as it would on the "over" frame.
    if ticket is not None and not dismissed and ticket_can_be_rated(ticket):
        response["X-Chat-Over"] = "1"
    return response


@require_GET
def support_queue(request: HttpRequest, name: str) -> HttpResponse:
    """The visitor's place in the pool as a fragment: read by the page whenever its socket
    (re)connects; the socket pushes the changes after that."""
    page = support_page_for(request, name)
    visitor_id = visitor_from_request(request)
    if visitor_id is None:
        raise Http404("no visitor")
    ticket = selectors.visitor_ticket(account_id=page.channel_account_id, visitor_id=visitor_id)
    queue = selectors.visitor_queue(ticket_id=ticket.pk if ticket is not None else None)
    context = {"queue": queue, "urls": _urls(page)}
    return render(request, "support/fragments/queue.html", context)


@require_GET
def support_theme(request: HttpRequest, name: str) -> HttpResponse:
    """The page's colour as a stylesheet (the CSP allows no inline style)."""
    page = support_page_for(request, name)
    response = render(
        request, "support/theme.css", {"colour": page.colour}, content_type="text/css"
    )
    response["Cache-Control"] = "max-age=300"
    return response


@require_GET
def support_logo(request: HttpRequest, name: str) -> FileResponse:
    page = support_page_for(request, name)
    if not page.logo:
        raise Http404("no logo")
    content_type = mimetypes.guess_type(page.logo.name)[0] or "application/octet-stream"
    if not content_type.startswith("image/") or content_type == "image/svg+xml":
        raise Http404("not an image")
    response = FileResponse(page.logo.open("rb"), content_type=content_type)
    response["Cache-Control"] = "max-age=300"
    return response


@require_GET
def support_embed_script(request: HttpRequest, name: str) -> HttpResponse:
    """The embed snippet's script (``<script src=".../embed.js" async>``): cached for an hour
    by browsers and proxies, then revalidated by its ETag (a changed colour or name shows
    within the hour)."""
    page = support_page_for(request, name)
    body = embed_script(page=page, base_url=public_url(request))
    etag = '"' + hashlib.sha256(body.encode()).hexdigest()[:32] + '"'
    if etag in [tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")]:
        response = HttpResponse(status=304)
    else:
        response = HttpResponse(body, content_type="text/javascript; charset=utf-8")
    response["ETag"] = etag
    response["Cache-Control"] = "public, max-age=3600"
    # A classic <script> from another origin needs no CORS; say so for fetch-based loaders.
    response["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response


# --- the end of a chat: end it, rate it, its transcript, replies while away (aftercare.py) ---

NEW_CHAT_COOKIE = "omnico_support_new_{account}"
NEW_CHAT_SALT = "omnico.webchat.new-chat"


def _dismissed(request: HttpRequest, page: SupportPage, visitor_id: str | None) -> tuple[int, str]:
    """The ticket (and when) the visitor left with "start a new chat": its lines are not
    shown again; ``(0, "")`` when none."""
    raw = request.COOKIES.get(NEW_CHAT_COOKIE.format(account=page.channel_account_id))
    if not raw or visitor_id is None:
        return 0, ""
    try:
        data = signing.loads(raw, salt=NEW_CHAT_SALT, max_age=MAX_AGE_SECONDS)
    except signing.BadSignature:
        return 0, ""
    if not isinstance(data, dict) or data.get("visitor") != visitor_id:
        return 0, ""
    return int(data.get("ticket") or 0), str(data.get("at") or "")


def _without_dismissed(
    request: HttpRequest, page: SupportPage, visitor_id: str | None, conversation
) -> tuple[selectors.Conversation, bool]:
    """The conversation without the lines of a chat the visitor left; and whether that chat
    is the one shown (then it is not "over" for this page)."""
    ticket_id, at = _dismissed(request, page, visitor_id)
    if not ticket_id or conversation.ticket is None or conversation.ticket.pk != ticket_id:
        return conversation, False
    try:
        since = datetime.fromisoformat(at)
    except ValueError:
        return conversation, False
    entries = [e for e in conversation.entries if e.at > since]
    return dataclasses.replace(conversation, entries=entries), True


def _aftercare(
    request: HttpRequest, page: SupportPage, visitor_id: str | None, conversation, dismissed: bool
) -> dict:
    """What the chat step shows about the end of the chat."""
    ticket = conversation.ticket if conversation is not None else None
    prefs = (
        aftercare.webchat_visitor_get(account=page.channel_account, visitor_id=visitor_id)
        if visitor_id
        else None
    )
    intake = _intake(request, page)
    name = page.channel_account.name
    return {
        "over": bool(ticket is not None and not dismissed and ticket_can_be_rated(ticket)),
        "rated_ticket": ticket if ticket is not None and ticket.rating and not dismissed else None,
        "visitor_email": (
            prefs.email if prefs and prefs.email else (intake.email if intake else "")
        ),
        "notify_away": bool(prefs and prefs.notify_away),
        "stars": [5, 4, 3, 2, 1],
        "aftercare_urls": {
            "end": reverse("support:end", args=[name]),
            "new": reverse("support:new", args=[name]),
            "rate": reverse("support:rate", args=[name]),
            "transcript": reverse("support:transcript", args=[name]),
            "preferences": reverse("support:preferences", args=[name]),
        },
    }


def _back(page: SupportPage) -> HttpResponse:
    return redirect(_urls(page)["page"])


def _visitor_or_back(request: HttpRequest, name: str) -> tuple[SupportPage, str | None]:
    page = support_page_for(request, name)
    return page, visitor_from_request(request)


def _visitor_action(
    request: HttpRequest,
    name: str,
    act: Callable[[SupportPage, str], object],
    done: str = "",
) -> HttpResponse:
    """Run one of the visitor's end-of-chat actions, say how it went on the page (``done``, or
    the ``AftercareError``'s words), and go back to the page. Nothing without a visitor."""
    page, visitor_id = _visitor_or_back(request, name)
    if visitor_id is not None:
        try:
            act(page, visitor_id)
        except aftercare.AftercareError as exc:
            messages.error(request, str(exc))
        else:
            if done:
                messages.success(request, done)
    return _back(page)


@embeddable
@require_POST
def support_end(request: HttpRequest, name: str) -> HttpResponse:
    """The visitor ends the chat (after the page's confirm step)."""
    return _visitor_action(
        request,
        name,
        lambda page, visitor_id: aftercare.visitor_chat_end(
            account=page.channel_account, visitor_id=visitor_id
        ),
    )


@embeddable
@require_POST
def support_new(request: HttpRequest, name: str) -> HttpResponse:
    """Start a new chat: the chat that is over is no longer shown, and the steps start again."""
    page, visitor_id = _visitor_or_back(request, name)
    response = _back(page)
    if visitor_id is None:
        return response
    ticket = aftercare.visitor_chat_restart(account=page.channel_account, visitor_id=visitor_id)
    response.delete_cookie(INTAKE_COOKIE.format(account=page.channel_account_id))
    if ticket is not None:
        response.set_cookie(
            NEW_CHAT_COOKIE.format(account=page.channel_account_id),
            signing.dumps(
                {"visitor": visitor_id, "ticket": ticket.pk, "at": timezone.now().isoformat()},
                salt=NEW_CHAT_SALT,
            ),
            max_age=MAX_AGE_SECONDS,
            httponly=True,
            samesite="Lax",
            secure=request.is_secure(),
        )
    return response


@embeddable
@require_POST
def support_rate(request: HttpRequest, name: str) -> HttpResponse:
    return _visitor_action(
        request,
        name,
        lambda page, visitor_id: aftercare.visitor_rate(
            account=page.channel_account,
            visitor_id=visitor_id,
            rating=request.POST.get("rating", ""),
            comment=request.POST.get("comment", ""),
        ),
        _("Thank you for your rating."),
    )


@embeddable
@require_POST
def support_transcript(request: HttpRequest, name: str) -> HttpResponse:
    return _visitor_action(
        request,
        name,
        lambda page, visitor_id: aftercare.visitor_transcript_request(
            account=page.channel_account,
            visitor_id=visitor_id,
            email=request.POST.get("email", ""),
            language=translation.get_language() or settings.LANGUAGE_CODE,
        ),
        _("The transcript is on its way to your e-mail."),
    )


@embeddable
@require_POST
def support_preferences(request: HttpRequest, name: str) -> HttpResponse:
    """ "E-mail me replies if I am away", ticked or not, with the address."""
    return _visitor_action(
        request,
        name,
        lambda page, visitor_id: aftercare.visitor_preferences_set(
            account=page.channel_account,
            visitor_id=visitor_id,
            email=request.POST.get("email", ""),
            notify_away=request.POST.get("notify_away") == "on",
            language=translation.get_language() or settings.LANGUAGE_CODE,
        ),
        _("Saved."),
    )


class _UploadLimit(FileUploadHandler):
    """Stops reading a request body that carries more file than the support page takes,
    before it is all written to a temporary file."""

    def __init__(self, request: HttpRequest | None = None) -> None:
        super().__init__(request)
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > settings.OMNICO_SUPPORT_UPLOAD_MAX_BYTES:
            raise StopUpload(connection_reset=True)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


def _upload_error(message: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


@csrf_exempt  # checked by support_upload_checked, once the size limit guards the body
@require_POST
def support_upload(request: HttpRequest, name: str) -> HttpResponse:
    """A file the visitor attached (multipart: ``client_id``, ``file``)."""
    # Multipart overhead (boundaries, the CSRF token and the client id) on top of the file.
    limit = settings.OMNICO_SUPPORT_UPLOAD_MAX_BYTES + 64 * 1024
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > limit:
        return _upload_error(services.upload_too_big_message(), status=413)
    request.upload_handlers = [_UploadLimit(request), *request.upload_handlers]
    return support_upload_checked(request, name)


@csrf_protect
def support_upload_checked(request: HttpRequest, name: str) -> HttpResponse:
    # The process's remembered page, read only (not a copy, and not left on the request for
    # support_page_for's callers), with what its visitors may choose: one memo look-up.
    page, choices = selectors.support_page_and_choices(name=name)
    visitor_id = visitor_from_request(request)
    intake = _intake(request, page)
    if visitor_id is None or intake is None:
        return JsonResponse({"error": "start"}, status=403)
    intake = _still_offered(intake, choices)
    retry_after = support_throttle(request, action="message")  # a file counts as a message
    if retry_after is not None:
        return support_limited_response(request, retry_after=retry_after)
    upload = request.FILES.get("file")
    if upload is None and int(request.META.get("CONTENT_LENGTH") or 0) > (
        settings.OMNICO_SUPPORT_UPLOAD_MAX_BYTES
    ):
        return _upload_error(services.upload_too_big_message(), status=413)
    try:
        services.visitor_upload_post(
            account=page.channel_account,
            visitor_id=visitor_id,
            client_id=request.POST.get("client_id", ""),
            upload=upload,
            intake=intake,
        )
    except services.VisitorMessageError as exc:
        return _upload_error(str(exc))
    return JsonResponse({"state": "delivered"})


@require_GET
def support_file(request: HttpRequest, attachment_id: int) -> FileResponse:
    """A file of the visitor's own conversation; 404 for anyone else's."""
    visitor_id = visitor_from_request(request)
    if visitor_id is None:
        raise Http404("no visitor")
    attachment = selectors.visitor_attachment_get(
        visitor_id=visitor_id, attachment_id=attachment_id
    )
    return stored_file_response(
        attachment.file.open("rb"),
        filename=attachment.filename or "file",
        content_type=attachment.content_type,
        inline=attachment.content_type in INLINE_IMAGE_TYPES,
    )
