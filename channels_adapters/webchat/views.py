"""The public support page: ``/support/`` and ``/support/<account name>/``.

No login. The visitor is the one in the signed cookie (``webchat.visitor``); every view reads
and writes only that visitor's conversation, whatever ids a request carries. Steps: group type
(cards) -> subject -> name and e-mail or phone (optional) -> the chat; a list with one entry
skips its step. CSRF on every form.
"""

from __future__ import annotations

import dataclasses
import mimetypes
import uuid

from django.conf import settings
from django.core import signing
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_POST

from channels_adapters.webchat import selectors, services
from channels_adapters.webchat.visitor import (
    MAX_AGE_SECONDS,
    visitor_from_request,
    visitor_new,
    visitor_set_cookie,
)
from configuration.models import SupportPage

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
        "upload": reverse("support:upload", args=[name]),
        "theme": reverse("support:theme", args=[name]),
        "logo": reverse("support:logo", args=[name]) if page.logo else "",
        "socket": f"/ws/visitor/{name}/",
    }


@require_GET
def support_page(request: HttpRequest, name: str | None = None) -> HttpResponse:
    page = selectors.support_page_get(name=name)
    visitor_id = visitor_from_request(request)
    context: dict = {"page": page, "urls": _urls(page)}
    conversation = None
    if visitor_id is not None:
        conversation = selectors.visitor_conversation(
            account_id=page.channel_account_id, visitor_id=visitor_id
        )
    if conversation is not None and (conversation.entries or _intake(request, page)):
        if conversation.ticket is not None and visitor_id is not None:
            services.visitor_replies_shown(
                account=page.channel_account,
                visitor_id=visitor_id,
                ticket_id=conversation.ticket.pk,
            )
        context.update(
            step="chat", conversation=conversation, labels=_labels(), client_id=uuid.uuid4()
        )
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
def support_start(request: HttpRequest, name: str) -> HttpResponse:
    page = selectors.support_page_get(name=name)
    group_types = selectors.group_types_for_visitors()
    subjects = selectors.subjects_for_visitors()
    try:
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
        return render(request, "support/page.html", context, status=400)
    visitor_id = visitor_from_request(request) or visitor_new()
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


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


@require_POST
def support_message(request: HttpRequest, name: str) -> HttpResponse:
    """A visitor's message: answered once it is stored (the page shows it delivered)."""
    page = selectors.support_page_get(name=name)
    visitor_id = visitor_from_request(request)
    intake = _intake(request, page)
    if visitor_id is None or intake is None:
        if _wants_json(request):
            return JsonResponse({"error": "start"}, status=403)
        return redirect(_urls(page)["page"])
    # A group type or subject switched off since the visitor chose it is simply not set.
    intake = dataclasses.replace(
        intake,
        group_type_id=_chosen_id(str(intake.group_type_id), selectors.group_types_for_visitors()),
        subject_id=_chosen_id(str(intake.subject_id), selectors.subjects_for_visitors()),
    )
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
    page = selectors.support_page_get(name=name)
    visitor_id = visitor_from_request(request)
    if visitor_id is None:
        raise Http404("no visitor")
    conversation = selectors.visitor_conversation(
        account_id=page.channel_account_id, visitor_id=visitor_id
    )
    if conversation.ticket is not None:
        services.visitor_replies_shown(
            account=page.channel_account, visitor_id=visitor_id, ticket_id=conversation.ticket.pk
        )
    return render(request, "support/fragments/entries.html", {"conversation": conversation})


@require_GET
def support_theme(request: HttpRequest, name: str) -> HttpResponse:
    """The page's colour as a stylesheet (the CSP allows no inline style)."""
    page = selectors.support_page_get(name=name)
    response = render(
        request, "support/theme.css", {"colour": page.colour}, content_type="text/css"
    )
    response["Cache-Control"] = "max-age=300"
    return response


@require_GET
def support_logo(request: HttpRequest, name: str) -> FileResponse:
    page = selectors.support_page_get(name=name)
    if not page.logo:
        raise Http404("no logo")
    content_type = mimetypes.guess_type(page.logo.name)[0] or "application/octet-stream"
    if not content_type.startswith("image/") or content_type == "image/svg+xml":
        raise Http404("not an image")
    response = FileResponse(page.logo.open("rb"), content_type=content_type)
    response["Cache-Control"] = "max-age=300"
    return response


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
    page = selectors.support_page_get(name=name)
    visitor_id = visitor_from_request(request)
    intake = _intake(request, page)
    if visitor_id is None or intake is None:
        return JsonResponse({"error": "start"}, status=403)
    intake = dataclasses.replace(
        intake,
        group_type_id=_chosen_id(str(intake.group_type_id), selectors.group_types_for_visitors()),
        subject_id=_chosen_id(str(intake.subject_id), selectors.subjects_for_visitors()),
    )
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


#: Served as pictures; everything else is a download. No SVG: it can hold script.
INLINE_TYPES = selectors.INLINE_IMAGE_TYPES


@require_GET
def support_file(request: HttpRequest, attachment_id: int) -> FileResponse:
    """A file of the visitor's own conversation; 404 for anyone else's."""
    visitor_id = visitor_from_request(request)
    if visitor_id is None:
        raise Http404("no visitor")
    attachment = selectors.visitor_attachment_get(
        visitor_id=visitor_id, attachment_id=attachment_id
    )
    inline = attachment.content_type in INLINE_TYPES
    response = FileResponse(
        attachment.file.open("rb"),
        as_attachment=not inline,
        filename=attachment.filename or "file",
        content_type=attachment.content_type if inline else "application/octet-stream",
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, max-age=3600"
    return response
