from django.urls import include, path

from inbox import (
    assign_views,
    mail_views,
    presence_views,
    raw_views,
    team_views,
    ticket_views,
    views,
    window_views,
)

urlpatterns = [
    path("", views.home, name="home"),
    path("home/offline/", views.home_offline, name="home-offline"),
    path("presence/", presence_views.presence, name="presence"),
    path("presence/team/", team_views.team, name="presence-team"),
    path("team/", team_views.team_redirect, name="team"),
    path("team/board/", team_views.team_board_fragment, name="team-board"),
    path("team/agents/<int:agent_id>/state/", team_views.agent_state, name="team-agent-state"),
    path(
        "team/agents/<int:agent_id>/capacity/",
        team_views.agent_capacity,
        name="team-agent-capacity",
    ),
    path(
        "team/agents/<int:agent_id>/tickets/",
        team_views.agent_tickets,
        name="team-agent-tickets",
    ),
    path("inbox/", views.inbox, name="inbox"),
    path("inbox/list/", views.inbox_list, name="inbox-list"),
    path("tickets/", views.ticket_list, name="ticket-list"),
    path("tickets/bulk/", views.tickets_bulk, name="tickets-bulk"),
    # --- the ticket screen (inbox/ticket_views.py) ---
    path("tickets/<int:ticket_id>/", ticket_views.ticket_redirect, name="ticket-redirect"),
    path("inbox/<int:ticket_id>/", ticket_views.ticket_detail, name="ticket-detail"),
    path(
        "inbox/<int:ticket_id>/conversation/",
        ticket_views.ticket_conversation,
        name="ticket-conversation",
    ),
    path("inbox/<int:ticket_id>/panel/", ticket_views.ticket_panel, name="ticket-panel"),
    path("inbox/<int:ticket_id>/status/", ticket_views.ticket_status, name="ticket-status"),
    path("inbox/<int:ticket_id>/priority/", ticket_views.ticket_priority, name="ticket-priority"),
    path(
        "inbox/<int:ticket_id>/department/",
        ticket_views.ticket_department,
        name="ticket-department",
    ),
    path("inbox/<int:ticket_id>/assignee/", assign_views.ticket_assignee, name="ticket-assignee"),
    path("pool/take/", assign_views.pool_take, name="pool-take"),
    path("inbox/<int:ticket_id>/tags/", ticket_views.tag_add, name="ticket-tag-add"),
    path(
        "inbox/<int:ticket_id>/tags/<int:tag_id>/remove/",
        ticket_views.tag_remove,
        name="ticket-tag-remove",
    ),
    path("inbox/<int:ticket_id>/customer/", ticket_views.ticket_customer, name="ticket-customer"),
    path("inbox/<int:ticket_id>/reply/", ticket_views.ticket_reply, name="ticket-reply"),
    path("inbox/<int:ticket_id>/window/", window_views.ticket_window, name="ticket-window"),
    path(
        "inbox/<int:ticket_id>/window/template/",
        window_views.template_fields,
        name="ticket-template-fields",
    ),
    path(
        "inbox/<int:ticket_id>/window/template/send/",
        window_views.template_send,
        name="ticket-template-send",
    ),
    path("inbox/<int:ticket_id>/activities/", ticket_views.activity_add, name="activity-add"),
    path(
        "inbox/<int:ticket_id>/activities/<int:activity_id>/done/",
        ticket_views.activity_done,
        name="activity-done",
    ),
    path(
        "inbox/<int:ticket_id>/activities/<int:activity_id>/call/",
        ticket_views.activity_call,
        name="activity-call",
    ),
    path(
        "inbox/<int:ticket_id>/messages/<int:message_id>/retry/",
        ticket_views.message_retry,
        name="message-retry",
    ),
    path(
        "inbox/<int:ticket_id>/messages/<int:message_id>/images/",
        mail_views.message_images,
        name="message-images",
    ),
    path(
        "inbox/<int:ticket_id>/messages/<int:message_id>/mail/",
        mail_views.message_html_document,
        name="message-mail-document",
    ),
    path("inbox/messages/<int:message_id>/raw/", raw_views.message_raw, name="message-raw"),
    path("inbox/tags/", ticket_views.tag_options, name="tag-options"),
    path(
        "inbox/activity-subcategories/",
        ticket_views.subcategory_options,
        name="activity-subcategories",
    ),
    path(
        "inbox/attachments/<int:attachment_id>/",
        ticket_views.attachment_download,
        name="attachment",
    ),
    path("reports/", include("reports.urls")),
    path("", include("inbox.canned_urls")),
]
