"""Admin forms for configuration: secrets are write-only.

A secret (mail password, bot token, webhook secret, verify token) is typed in, never shown
back: the input renders empty whatever is stored, the help text only says whether a value is
set, an empty input keeps the stored value, and a "clear" checkbox beside it removes it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.db import models
from django.forms.models import ModelFormMetaclass
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from configuration.models import CannedResponse, ChannelAccount, ChannelKind, MailAccount

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


def clear_field_name(name: str) -> str:
    return f"clear_{name}"


#: Kinds whose messages arrive at a webhook, /hooks/<kind>/<name>/ (e-mail is polled over IMAP,
#: the web chat talks over the visitor's websocket).
WEBHOOK_KINDS = (ChannelKind.TELEGRAM, ChannelKind.WHATSAPP, ChannelKind.MESSENGER, ChannelKind.API)


def name_help_text(kind: str, name: str) -> StrOrPromise:
    """The account name's help text, for its kind: where its webhook is, if it has one.

    The admin renders help texts as HTML, so nothing here may look like a tag.
    """
    if kind in WEBHOOK_KINDS:
        if name:
            return _("Its webhook address is %(path)s.") % {
                "path": reverse("hooks:webhook", kwargs={"kind": kind, "name": name})
            }
        return _(
            "Part of the webhook address, e.g. %(path)s for a %(kind)s account named %(name)s."
        ) % {
            "path": reverse("hooks:webhook", kwargs={"kind": kind, "name": "support"}),
            "kind": ChannelKind(kind).label,
            "name": "support",
        }
    if kind == ChannelKind.EMAIL:
        return _(
            "A short name for this mailbox, e.g. support. Mail is fetched over IMAP: no webhook."
        )
    if kind == ChannelKind.WEBCHAT:
        return _("A short name for this web chat, e.g. support. The web chat needs no webhook.")
    return _(
        "Part of the webhook address of Telegram, WhatsApp, Messenger and API accounts, "
        "e.g. %(path)s for a Telegram account named support."
    ) % {"path": reverse("hooks:webhook", kwargs={"kind": ChannelKind.TELEGRAM, "name": "support"})}


def https_urls(db_field, **kwargs):
    """Form fields for a model, with URLs assumed to be https:// when typed bare."""
    if isinstance(db_field, models.URLField):
        kwargs.setdefault("assume_scheme", "https")
    return db_field.formfield(**kwargs)


class SecretFormMetaclass(ModelFormMetaclass):
    """Declares one "clear" checkbox per name in the form's ``secret_fields``."""

    def __new__(mcs, name, bases, attrs):
        for secret in attrs.get("secret_fields", ()):
            attrs.setdefault(
                clear_field_name(secret),
                forms.BooleanField(
                    label=_("Remove the stored value"),
                    required=False,
                ),
            )
        return super().__new__(mcs, name, bases, attrs)


class SecretFieldsForm(forms.ModelForm, metaclass=SecretFormMetaclass):
    """Base for every form with secrets: list them in ``secret_fields``, nothing else."""

    secret_fields: tuple[str, ...] = ()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._stored_secrets: dict[str, str] = {}
        for name in self.secret_fields:
            if name not in self.fields:
                continue
            stored = getattr(self.instance, name, "") or ""
            self._stored_secrets[name] = stored
            # The stored value must not even reach the form's initial data.
            self.initial.pop(name, None)
            field = self.fields[name]
            field.required = False
            field.strip = False  # type: ignore[attr-defined]  # a CharField
            field.widget = forms.PasswordInput(
                render_value=False, attrs={"autocomplete": "new-password"}
            )
            field.help_text = (
                _("Set. Leave empty to keep the stored value.") if stored else _("Not set.")
            )
            clear = self.fields.get(clear_field_name(name))
            if clear is not None and not stored:
                clear.disabled = True

    def clean(self):
        cleaned = cast(dict[str, Any], super().clean())
        for name in self._stored_secrets:
            clear_name = clear_field_name(name)
            typed = cleaned.get(name) or ""
            if cleaned.get(clear_name):
                if typed:
                    self.add_error(
                        clear_name, _("Either type a new value or remove the stored one.")
                    )
                cleaned[name] = ""
            elif not typed:
                cleaned[name] = self._stored_secrets[name]
        return cleaned


class ChannelAccountForm(SecretFieldsForm):
    """A messenger/API/web-chat account. E-mail accounts are edited as mail accounts."""

    secret_fields = ("token", "secret", "verify_token")

    class Meta:
        model = ChannelAccount
        formfield_callback = https_urls
        fields = [
            "kind",
            "name",
            "display_name",
            "enabled",
            "token",
            "secret",
            "verify_token",
            "external_id",
            "base_url",
            "callback_url",
            "waba_id",
            "human_agent_tag",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "name" in self.fields:
            saved = self.instance.pk is not None
            self.fields["name"].help_text = name_help_text(
                self.instance.kind if saved else "", self.instance.name if saved else ""
            )
        if "kind" in self.fields:
            self.fields["kind"].choices = [  # type: ignore[attr-defined]
                choice
                for choice in self.fields["kind"].choices  # type: ignore[attr-defined]
                if choice[0] != ChannelKind.EMAIL
            ]


class MailAccountForm(SecretFieldsForm):
    secret_fields = ("password",)

    class Meta:
        model = MailAccount
        fields = [
            "name",
            "display_name",
            "enabled",
            "email_address",
            "username",
            "password",
            "imap_host",
            "imap_port",
            "imap_security",
            "imap_folder",
            "smtp_host",
            "smtp_port",
            "smtp_security",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "name" in self.fields:
            self.fields["name"].help_text = name_help_text(ChannelKind.EMAIL, "")

    def clean_name(self):
        # ``kind`` is not on this form, so the (kind, name) constraint is checked here; the
        # database constraint still settles a race.
        name = self.cleaned_data["name"]
        taken = ChannelAccount.objects.filter(kind=ChannelKind.EMAIL, name=name).exclude(
            pk=self.instance.pk
        )
        if taken.exists():
            raise forms.ValidationError(_("A mail account with this name exists already."))
        return name


class CannedResponseForm(forms.ModelForm):
    """A canned response's fields, for the admin (shared ones) and an agent's own page.

    ``owner`` (``None``: shared) is whose shortcuts must not repeat; the database's unique
    constraint settles a race (``configuration.services.canned_response_save``).
    """

    class Meta:
        model = CannedResponse
        fields = ("title", "shortcut", "text", "language", "is_active")
        widgets = {"text": forms.Textarea(attrs={"rows": 6})}

    def __init__(self, *args: Any, owner: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.owner = owner

    def clean_shortcut(self) -> str:
        shortcut: str = self.cleaned_data["shortcut"]
        taken = CannedResponse.objects.filter(owner=self.owner, shortcut__iexact=shortcut)
        if self.instance.pk is not None:
            taken = taken.exclude(pk=self.instance.pk)
        if taken.exists():
            raise forms.ValidationError(
                _("Another canned response already uses the shortcut /%(shortcut)s."),
                code="unique",
                params={"shortcut": shortcut},
            )
        return shortcut
