"""Webhook subscriptions and their deliveries (the event bodies are in the OpenAPI ``webhooks``)."""

from typing import Literal

from pydantic import Field

from app.api.schemas import DivisionCode, Number, Out, Timestamp
from app.api.schemas.cases import Page


class Subscription(Out):
    id: str
    url: str
    event_types: list[str]
    division_code: DivisionCode
    active: bool
    disabled_reason: str | None
    disabled_at: Timestamp | None
    failing_since: Timestamp | None
    previous_secret_valid_until: Timestamp | None
    created_by: str | None
    created_by_kind: Literal["user", "api_key"] | None
    created_at: Timestamp
    updated_at: Timestamp


class SubscriptionWithSecret(Subscription):
    secret: str | None = Field(None, description="whsec_…: shown when made or rotated, never again")


class Delivery(Out):
    id: str = Field(description="the webhook-id header: msg_…")
    event_id: str | None
    event_type: str
    application_id: str | None
    status: Literal["pending", "sending", "delivered", "dead"]
    attempts: int = Field(ge=0)
    created_at: Timestamp
    next_attempt_at: Timestamp | None
    last_attempt_at: Timestamp | None
    response_code: int | None = Field(ge=100, le=599)
    response_ms: Number | None
    last_error: str | None
    delivered_at: Timestamp | None
    expires_at: Timestamp


class DeliveryPage(Page):
    items: list[Delivery]
