"""The support page's own settings, remembered per web process (``omnico.core.shared_memo``).

Every visitor message and history fetch needs the page (and its web-chat account), and every
message checks the group type and subject the visitor chose are still offered: three queries
per message for rows an admin changes a few times a year. They are read once per process and
version; a save or delete of a support page, a channel account, a group type, a subject, the
business hours or a holiday moves the version once its transaction commits, and every process
reads them again on its next request (a page changed in the admin shows at once everywhere).

Connected in ``ChannelsAdaptersConfig.ready``, so every process that can change these rows
(web, worker, ``manage.py`` commands, the demo) announces the change.
"""

from __future__ import annotations

from configuration.models import (
    BusinessHours,
    ChannelAccount,
    GroupType,
    Holiday,
    MailAccount,
    Subject,
    SupportPage,
)
from omnico.core.shared_memo import SharedMemo

MEMO = SharedMemo("support-settings")

#: The rows the memo's values are read from.
WATCHED = (SupportPage, ChannelAccount, MailAccount, GroupType, Subject, BusinessHours, Holiday)


def connect() -> None:
    MEMO.watch(*WATCHED)
