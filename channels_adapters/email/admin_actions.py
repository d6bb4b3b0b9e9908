"""Admin action for the MailAccount admin: ``actions = [test_connection]``."""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from channels_adapters.email.services import mail_account_test
from configuration.models import MailAccount


@admin.action(description=gettext_lazy("Test the connection (IMAP and SMTP)"))
def test_connection(modeladmin, request, queryset) -> None:
    for account in queryset.order_by("pk")[:20]:
        if not isinstance(account, MailAccount):
            account = MailAccount.objects.get(pk=account.pk)
        for label, ok, words in mail_account_test(account=account):
            text = _("%(account)s, %(check)s: %(result)s") % {
                "account": account.name,
                "check": label,
                "result": words,
            }
            modeladmin.message_user(request, text, messages.SUCCESS if ok else messages.ERROR)
