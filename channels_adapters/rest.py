"""``/api/v1/tickets/<id>/messages/``: an agent's reply (sent through the ticket's channel like
one from the agent screen: ``services.outbound.reply_send``) or an internal note, written as
the token's acting agent (``ApiToken.acts_as``), who must be at work to reply."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from channels_adapters.registry import has_adapter
from channels_adapters.services.outbound import reply_send
from configuration.api_base import ApiView, acting_agent
from configuration.models import ApiScope
from tickets.api import MessageSerializer, rules_as_errors
from tickets.models import Ticket
from tickets.services import message_add_outbound


class MessageCreateSerializer(serializers.Serializer):
    body = serializers.CharField()
    note = serializers.BooleanField(
        default=False, help_text="An internal note, never sent to the customer."
    )


class TicketMessageView(ApiView):
    scopes = {"POST": ApiScope.TICKETS_WRITE}

    @extend_schema(
        summary="Send an agent reply or add an internal note (as the token's acting agent)",
        request=MessageCreateSerializer,
        responses={201: MessageSerializer},
    )
    def post(self, request: Request, ticket_id: int) -> Response:
        self.audit("ticket", ticket_id)
        agent = acting_agent(request)
        ticket = get_object_or_404(Ticket, pk=ticket_id)
        form = MessageCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        body, note = form.validated_data["body"], form.validated_data["note"]
        with rules_as_errors():
            if note:
                message = message_add_outbound(ticket=ticket, author=agent, body=body, note=True)
            elif not has_adapter(ticket.source):
                raise serializers.ValidationError(
                    {"note": [f"Replies to {ticket.source} are not available; send a note."]}
                )
            else:
                message = reply_send(ticket=ticket, author=agent, body=body)
        self.audit("message", message.pk)
        return Response(MessageSerializer(message).data, status=status.HTTP_201_CREATED)
