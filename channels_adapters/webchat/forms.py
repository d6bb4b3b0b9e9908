"""The support page's offline form: it parses input; ``offline.offline_message_post`` stores."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from channels_adapters.webchat.adapter import MAX_TEXT_CHARS
from channels_adapters.webchat.offline import OfflineMessage
from configuration.models import Subject


class OfflineForm(forms.Form):
    """Name, e-mail or phone (one of them), subject (the active ones), message."""

    client_id = forms.CharField(widget=forms.HiddenInput, max_length=64)
    name = forms.CharField(label=_("Your name"), max_length=120)
    email = forms.EmailField(label=_("E-mail"), max_length=254, required=False)
    phone = forms.RegexField(
        label=_("Phone"),
        max_length=40,
        required=False,
        regex=r"^[0-9+() -]+$",
        error_messages={"invalid": _("Enter a valid phone number.")},
    )
    subject = forms.TypedChoiceField(label=_("Subject"), coerce=int, empty_value=None)
    message = forms.CharField(
        label=_("Your message"), max_length=MAX_TEXT_CHARS, widget=forms.Textarea(attrs={"rows": 5})
    )

    def __init__(self, *args, subjects: list[Subject], **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["subject"]
        field.choices = [  # type: ignore[attr-defined]
            ("", _("Choose a subject")),
            *((s.pk, s.name) for s in subjects),
        ]
        field.required = bool(subjects)
        self.fields["name"].widget.attrs["autocomplete"] = "name"
        self.fields["email"].widget.attrs["autocomplete"] = "email"
        self.fields["phone"].widget.attrs.update(autocomplete="tel", type="tel")

    def clean(self) -> dict:
        data = super().clean() or {}
        given = data.get("email") or data.get("phone")
        if not given and not self.has_error("email") and not self.has_error("phone"):
            self.add_error("email", _("Give an e-mail address or a phone number."))
        return data

    def offline_message(self, *, group_type_id: int | None) -> OfflineMessage:
        data = self.cleaned_data
        return OfflineMessage(
            name=data["name"].strip(),
            email=data.get("email") or "",
            phone=(data.get("phone") or "").strip(),
            text=data["message"],
            subject_id=data.get("subject"),
            group_type_id=group_type_id,
        )
