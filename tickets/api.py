"""``/api/v1/tickets/``: list (filters, keyset pages), read with messages, create for a
customer (as if they wrote: routing applies), change status, priority and tags; and
``/api/v1/customers/<id>/merge/`` (tickets move with the customer). Replies and notes are in
``channels_adapters.rest``: sending is the channel layer's."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from configuration.api_base import ApiView, Conflict, KeysetPagination, RuleBroken
from configuration.models import (
    ApiScope,
    ApiToken,
    ChannelAccount,
    ChannelKind,
    GroupType,
    Subject,
)
from customers.api import CustomerDetailSerializer, customers_for_api
from customers.models import Customer
from tickets.errors import TicketRuleError
from tickets.merging import MergeConflict, customer_merge
from tickets.models import Message, Priority, Tag, Ticket, TicketStatus
from tickets.receiving import Incoming, ticket_receive
from tickets.services import (
    ticket_add_tag,
    ticket_remove_tag,
    ticket_set_priority,
    ticket_set_status,
)

#: The newest messages a ticket is read with.
MESSAGES_SHOWN = 200


@contextmanager
def rules_as_errors() -> Iterator[None]:
    """A ticket rule's refusal answers 400 (409 for a merge conflict) with its message."""
    try:
        yield
    except MergeConflict as exc:
        raise Conflict(exc.message) from None
    except TicketRuleError as exc:
        raise RuleBroken(exc.message) from None


def token_agent(request: Request) -> Any:
    token = request.auth
    return token.acts_as if isinstance(token, ApiToken) else None


class PersonField(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class TicketSerializer(serializers.ModelSerializer):
    customer = serializers.SerializerMethodField()
    assignee = serializers.SerializerMethodField()
    tags = serializers.SerializerMethodField()
    preview = serializers.CharField(source="last_message_preview")

    class Meta:
        model = Ticket
        fields: tuple[str, ...] = (
            "id",
            "status",
            "priority",
            "source",
            "channel_account_id",
            "title",
            "customer",
            "assignee",
            "tags",
            "department_id",
            "subject_id",
            "group_type_id",
            "preview",
            "last_message_at",
            "created_at",
            "updated_at",
            "resolved_at",
            "closed_at",
        )

    def get_customer(self, ticket: Ticket) -> dict[str, Any]:
        return {"id": ticket.customer_id, "name": ticket.customer.name}

    def get_assignee(self, ticket: Ticket) -> dict[str, Any] | None:
        user = ticket.assignee
        if user is None:
            return None
        return {"id": user.pk, "name": user.get_full_name() or user.get_username()}

    def get_tags(self, ticket: Ticket) -> list[str]:
        return [tag.name for tag in ticket.tags.all()]


class MessageSerializer(serializers.ModelSerializer):
    author = serializers.SerializerMethodField()

    class Meta:
        model = Message
        fields = ("id", "direction", "body", "author", "sent_at", "delivery", "delivery_error")

    def get_author(self, message: Message) -> dict[str, Any] | None:
        user = message.author
        if user is None:
            return None
        return {"id": user.pk, "name": user.get_full_name() or user.get_username()}


class TicketDetailSerializer(TicketSerializer):
    messages = serializers.SerializerMethodField()

    class Meta(TicketSerializer.Meta):
        fields = (*TicketSerializer.Meta.fields, "messages")

    def get_messages(self, ticket: Ticket) -> list[dict[str, Any]]:
        messages = list(ticket.recent_messages)  # type: ignore[attr-defined]
        messages.reverse()
        return MessageSerializer(messages, many=True).data  # type: ignore[return-value]


def _tickets() -> QuerySet[Ticket]:
    return Ticket.objects.select_related("customer", "assignee").prefetch_related(
        Prefetch("tags", queryset=Tag.objects.order_by("name"))
    )


def ticket_with_messages(ticket_id: int) -> Ticket:
    recent = Message.objects.select_related("author").order_by("-sent_at", "-id")
    ticket = get_object_or_404(_tickets(), pk=ticket_id)
    ticket.recent_messages = list(  # type: ignore[attr-defined]
        recent.filter(ticket=ticket)[:MESSAGES_SHOWN]
    )
    return ticket


class TicketFilters(serializers.Serializer):
    status = serializers.MultipleChoiceField(choices=TicketStatus.choices, required=False)
    assignee = serializers.RegexField(r"^(\d+|none)$", required=False)
    channel = serializers.ChoiceField(choices=ChannelKind.choices, required=False)
    customer = serializers.IntegerField(required=False)
    updated_since = serializers.DateTimeField(required=False)


class TicketCreateSerializer(serializers.Serializer):
    """A message from a customer that opens (or joins) their ticket on ``channel_account``."""

    customer = serializers.IntegerField()
    channel_account = serializers.IntegerField()
    body = serializers.CharField()
    title = serializers.CharField(required=False, allow_blank=True, max_length=255)
    subject = serializers.IntegerField(required=False, allow_null=True)
    group_type = serializers.IntegerField(required=False, allow_null=True)
    external_id = serializers.CharField(
        required=False,
        max_length=200,
        help_text="Your id of the message: a second request with it creates nothing.",
    )


class TicketPatchSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=TicketStatus.choices, required=False)
    priority = serializers.ChoiceField(choices=Priority.choices, required=False)
    tags = serializers.ListField(
        child=serializers.CharField(max_length=60), required=False, help_text="The full set."
    )


class TicketListView(ApiView):
    scopes = {"GET": ApiScope.TICKETS_READ, "POST": ApiScope.TICKETS_WRITE}

    @extend_schema(
        summary="List tickets, newest first, in keyset pages",
        parameters=[
            TicketFilters,
            OpenApiParameter("cursor", str, description="`next` or `previous` of a page"),
            OpenApiParameter("limit", int, description="Page size, 1-200 (default 50)"),
        ],
        responses=TicketSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        filters = TicketFilters(data=request.query_params)
        filters.is_valid(raise_exception=True)
        wanted = filters.validated_data
        tickets = _tickets()
        if wanted.get("status"):
            tickets = tickets.filter(status__in=sorted(wanted["status"]))
        if "assignee" in wanted:
            if wanted["assignee"] == "none":
                tickets = tickets.filter(assignee__isnull=True)
            else:
                tickets = tickets.filter(assignee_id=int(wanted["assignee"]))
        if wanted.get("channel"):
            tickets = tickets.filter(source=wanted["channel"])
        if "customer" in wanted:
            tickets = tickets.filter(customer_id=wanted["customer"])
        if "updated_since" in wanted:
            tickets = tickets.filter(updated_at__gte=wanted["updated_since"])
        paginator = KeysetPagination()
        page = paginator.paginate_queryset(tickets, request, view=self)
        return paginator.get_paginated_response(TicketSerializer(page, many=True).data)

    @extend_schema(
        summary="Create a ticket for a customer (routing applies)",
        request=TicketCreateSerializer,
        responses={200: TicketDetailSerializer, 201: TicketDetailSerializer},
    )
    def post(self, request: Request) -> Response:
        form = TicketCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        customer = get_object_or_404(Customer, pk=data["customer"])
        account = ChannelAccount.objects.filter(pk=data["channel_account"]).first()
        if account is None:
            raise serializers.ValidationError({"channel_account": ["No such channel account."]})
        unknown = {
            field: ["No such object."]
            for field, model in (("subject", Subject), ("group_type", GroupType))
            if data.get(field) is not None and not model.objects.filter(pk=data[field]).exists()
        }
        if unknown:
            raise serializers.ValidationError(unknown)
        external_id = data.get("external_id")
        incoming = Incoming(
            body=data["body"],
            title=data.get("title", ""),
            subject_id=data.get("subject"),
            group_type_id=data.get("group_type"),
            external_id=f"api:{external_id}" if external_id else None,
        )
        with rules_as_errors():
            received = ticket_receive(channel_account=account, customer=customer, incoming=incoming)
        self.audit("ticket", received.ticket.pk)
        body = TicketDetailSerializer(ticket_with_messages(received.ticket.pk)).data
        code = status.HTTP_201_CREATED if received.ticket_created else status.HTTP_200_OK
        return Response(body, status=code)


class TicketDetailView(ApiView):
    scopes = {"GET": ApiScope.TICKETS_READ, "PATCH": ApiScope.TICKETS_WRITE}

    @extend_schema(
        summary="Read a ticket with its newest messages", responses=TicketDetailSerializer
    )
    def get(self, request: Request, ticket_id: int) -> Response:
        return Response(TicketDetailSerializer(ticket_with_messages(ticket_id)).data)

    @extend_schema(
        summary="Change a ticket's status, priority or tags",
        request=TicketPatchSerializer,
        responses=TicketDetailSerializer,
    )
    def patch(self, request: Request, ticket_id: int) -> Response:
        self.audit("ticket", ticket_id)
        ticket = get_object_or_404(Ticket, pk=ticket_id)
        form = TicketPatchSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        actor = token_agent(request)
        with rules_as_errors():
            if "status" in data:
                ticket = ticket_set_status(ticket=ticket, status=data["status"], actor=actor)
            if "priority" in data:
                ticket = ticket_set_priority(ticket=ticket, priority=data["priority"], actor=actor)
            if "tags" in data:
                ticket_tags_set(ticket=ticket, names=data["tags"], actor=actor)
        return Response(TicketDetailSerializer(ticket_with_messages(ticket_id)).data)


def ticket_tags_set(*, ticket: Ticket, names: list[str], actor: Any) -> None:
    """Make the ticket's tags exactly ``names`` (case-insensitive), through the tag services so
    each change is on the ticket's trail."""
    wanted = {name.strip().lower(): name.strip() for name in names if name.strip()}
    for tag in list(ticket.tags.all()):
        if tag.name.lower() not in wanted:
            ticket_remove_tag(ticket=ticket, tag=tag, actor=actor)
        else:
            wanted.pop(tag.name.lower())
    for name in wanted.values():
        ticket_add_tag(ticket=ticket, name=name, actor=actor)


class MergeSerializer(serializers.Serializer):
    other = serializers.IntegerField(help_text="The customer merged into this one (deleted).")


class CustomerMergeView(ApiView):
    scopes = {"POST": ApiScope.CUSTOMERS_WRITE}

    @extend_schema(
        summary="Merge another customer into this one",
        request=MergeSerializer,
        responses=CustomerDetailSerializer,
    )
    def post(self, request: Request, customer_id: int) -> Response:
        self.audit("customer", customer_id)
        form = MergeSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        into = get_object_or_404(Customer, pk=customer_id)
        other = get_object_or_404(Customer, pk=form.validated_data["other"])
        with rules_as_errors():
            customer = customer_merge(into=into, other=other, actor=token_agent(request))
        return Response(CustomerDetailSerializer(customers_for_api().get(pk=customer.pk)).data)
