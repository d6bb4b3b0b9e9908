"""``/api/v1/customers/`` and ``/api/v1/carts/``: find customers by identity, read them, set
their CRM attributes; push a shop's carts and orders. (Merging is in ``tickets.api``: tickets
move with it.)"""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, Q
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from configuration.api_base import ApiView
from configuration.models import ApiScope, ChannelKind
from customers.models import Customer, Identity, ShoppingCart
from customers.services import (
    CART_STATUSES,
    cart_push,
    customer_attributes_update,
    customer_resolve,
    customer_update,
)

#: At most this many customers answer one look-up (an e-mail shared by a family, say).
FIND_LIMIT = 20
#: The newest carts shown with a customer.
CARTS_SHOWN = 5


class IdentitySerializer(serializers.ModelSerializer):
    class Meta:
        model = Identity
        fields = ("kind", "external_id", "display")


class CartSerializer(serializers.ModelSerializer):
    customer = serializers.IntegerField(source="customer_id", read_only=True)

    class Meta:
        model = ShoppingCart
        fields = (
            "id",
            "customer",
            "source",
            "external_id",
            "status",
            "items",
            "total",
            "currency",
            "updated_at",
        )


class CustomerSerializer(serializers.ModelSerializer):
    identities = IdentitySerializer(many=True, read_only=True)

    class Meta:
        model = Customer
        fields: tuple[str, ...] = (
            "id",
            "name",
            "email",
            "phone",
            "gender",
            "age",
            "size",
            "location",
            "attributes",
            "identities",
            "created_at",
            "updated_at",
        )


class CustomerDetailSerializer(CustomerSerializer):
    carts = serializers.SerializerMethodField()

    class Meta(CustomerSerializer.Meta):
        fields = (*CustomerSerializer.Meta.fields, "carts")

    def get_carts(self, customer: Customer) -> list[dict[str, Any]]:
        carts = customer.carts.order_by("-updated_at", "-id")[:CARTS_SHOWN]
        return CartSerializer(carts, many=True).data  # type: ignore[return-value]


class CustomerPatchSerializer(serializers.Serializer):
    """``attributes`` are merged (a key set to null is removed); the other fields replace."""

    attributes = serializers.DictField(required=False)
    name = serializers.CharField(required=False, max_length=200)
    email = serializers.EmailField(required=False, allow_blank=True)
    phone = serializers.CharField(required=False, allow_blank=True, max_length=40)
    location = serializers.CharField(required=False, allow_blank=True, max_length=200)
    size = serializers.CharField(required=False, allow_blank=True, max_length=40)
    age = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=150)
    gender = serializers.ChoiceField(required=False, choices=Customer.Gender.choices)


def customers_for_api() -> Any:
    return Customer.objects.prefetch_related(
        Prefetch("identities", queryset=Identity.objects.order_by("pk"))
    )


class CustomerListView(ApiView):
    scopes = {"GET": ApiScope.CUSTOMERS_READ}

    @extend_schema(
        summary="Find customers by identity",
        parameters=[
            OpenApiParameter("email", str, description="An e-mail address (case-insensitive)"),
            OpenApiParameter("phone", str, description="A phone number as stored"),
            OpenApiParameter("kind", str, enum=ChannelKind.values, description="Channel kind"),
            OpenApiParameter("external_id", str, description="The id on channel `kind`"),
        ],
        responses=CustomerSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        email = params.get("email", "").strip()
        phone = params.get("phone", "").strip()
        kind, external_id = params.get("kind", ""), params.get("external_id", "").strip()
        if kind and kind not in ChannelKind.values:
            raise serializers.ValidationError({"kind": [f"Unknown channel kind {kind!r}."]})
        if bool(kind) != bool(external_id):
            raise serializers.ValidationError(
                {"external_id": ["kind and external_id are given together."]}
            )
        if not (email or phone or external_id):
            raise serializers.ValidationError(
                {"non_field_errors": ["Give email, phone, or kind and external_id."]}
            )
        match = Q()
        if email:
            match |= Q(email__iexact=email) | Q(
                identities__kind=ChannelKind.EMAIL, identities__external_id__iexact=email
            )
        if phone:
            match |= Q(phone=phone) | Q(identities__external_id=phone)
        if external_id:
            match |= Q(identities__kind=kind, identities__external_id=external_id)
        ids = Customer.objects.filter(match).values("pk").distinct()
        customers = customers_for_api().filter(pk__in=ids).order_by("pk")[:FIND_LIMIT]
        return Response(CustomerSerializer(customers, many=True).data)


class CustomerDetailView(ApiView):
    scopes = {"GET": ApiScope.CUSTOMERS_READ, "PATCH": ApiScope.CUSTOMERS_WRITE}

    @extend_schema(summary="Read a customer", responses=CustomerDetailSerializer)
    def get(self, request: Request, customer_id: int) -> Response:
        customer = get_object_or_404(customers_for_api(), pk=customer_id)
        return Response(CustomerDetailSerializer(customer).data)

    @extend_schema(
        summary="Update a customer's details and CRM attributes",
        request=CustomerPatchSerializer,
        responses=CustomerDetailSerializer,
    )
    def patch(self, request: Request, customer_id: int) -> Response:
        self.audit("customer", customer_id)
        customer = get_object_or_404(Customer, pk=customer_id)
        form = CustomerPatchSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = dict(form.validated_data)
        attributes = data.pop("attributes", None)
        if data:
            customer = customer_update(customer=customer, **data)
        if attributes:
            customer = customer_attributes_update(customer=customer, changes=attributes)
        customer = customers_for_api().get(pk=customer.pk)
        return Response(CustomerDetailSerializer(customer).data)


class CartItemSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=300)
    quantity = serializers.IntegerField(min_value=0, default=1)
    price = serializers.DecimalField(
        max_digits=12, decimal_places=2, required=False, allow_null=True
    )
    sku = serializers.CharField(required=False, allow_blank=True, max_length=120)


class CartPushSerializer(serializers.Serializer):
    """A cart (or the order it became) as the shop sees it now. The customer is ``customer``
    (an Omnico id) or ``email`` (found, or created with that e-mail identity)."""

    customer = serializers.IntegerField(required=False)
    email = serializers.EmailField(required=False)
    name = serializers.CharField(required=False, allow_blank=True, max_length=200)
    source = serializers.CharField(max_length=60, default="woocommerce")  # type: ignore[assignment]
    external_id = serializers.CharField(max_length=120)
    status = serializers.ChoiceField(choices=CART_STATUSES)
    items = CartItemSerializer(many=True, default=list)
    total = serializers.DecimalField(max_digits=12, decimal_places=2)
    currency = serializers.RegexField(r"^[A-Za-z]{3}$", default="TRY")
    updated_at = serializers.DateTimeField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("customer") and not attrs.get("email"):
            raise serializers.ValidationError({"email": ["Give customer or email."]})
        return attrs


def _cart_items(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The items as the panel reads them (JSON: prices as strings)."""
    return [
        {k: (str(v) if k == "price" and v is not None else v) for k, v in item.items()}
        for item in items
    ]


class CartPushView(ApiView):
    scopes = {"POST": ApiScope.CARTS_WRITE}

    @extend_schema(
        summary="Push a cart or order (idempotent by source and external_id)",
        request=CartPushSerializer,
        responses={200: CartSerializer, 201: CartSerializer},
    )
    def post(self, request: Request) -> Response:
        form = CartPushSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        if data.get("customer"):
            customer = get_object_or_404(Customer, pk=data["customer"])
        else:
            email = data["email"].lower()
            customer = customer_resolve(
                kind=ChannelKind.EMAIL, external_id=email, name=data.get("name", ""), email=email
            )
        pushed = cart_push(
            customer=customer,
            source=data["source"],
            external_id=data["external_id"],
            items=_cart_items(data["items"]),
            total=data["total"],
            currency=data["currency"],
            status=data["status"],
            updated_at=data.get("updated_at") or timezone.now(),
        )
        self.audit("cart", pushed.cart.pk)
        code = status.HTTP_201_CREATED if pushed.created else status.HTTP_200_OK
        return Response(CartSerializer(pushed.cart).data, status=code)
