"""Webhook subscriptions and their deliveries (issue 8); the event bodies are in the OpenAPI ``webhooks``."""

from urllib.parse import urlsplit

from fastapi import FastAPI, Request, Response

from app.api.deps import Ctx, Limit, Offset
from app.api.routing import api_router
from app.api.schemas import webhooks as out
from app.api.schemas.problems import AUTHENTICATED
from app.domain.webhooks import delivery_log, subscriptions
from app.domain.webhooks import events as webhook_events
from app.domain.webhooks.deliveries import Policy
from app.domain.webhooks.subscriptions import Target

router = api_router(prefix="/webhook-subscriptions", tags=["webhooks"], responses=AUTHENTICATED)


def _target(request: Request) -> Target:
    settings = request.app.state.settings
    own = {request.url.hostname or "", (request.headers.get("host") or "").rsplit(":", 1)[0]}
    if settings.public_base_url:
        own.add(urlsplit(settings.public_base_url).hostname or "")
    return Target(test_mode=settings.env == "test", own_hosts=own)


@router.post(
    "",
    status_code=201,
    response_model=out.SubscriptionWithSecret,
    summary="Subscribe a URL to events of the cases at or under a division",
)
async def create(ctx: Ctx, request: Request, body: subscriptions.SubscriptionIn) -> dict:
    async with ctx.begin() as (conn, me):
        return await subscriptions.create(conn, me, body, _target(request))


@router.get("", response_model=list[out.Subscription])
async def list_(ctx: Ctx) -> list[dict]:
    async with ctx.begin() as (conn, me):
        return await subscriptions.list_(conn, me)


@router.get("/{subscription_id}", response_model=out.Subscription)
async def get(ctx: Ctx, subscription_id: str) -> dict:
    async with ctx.begin() as (conn, me):
        return subscriptions.view(await subscriptions.load(conn, me, subscription_id))


@router.patch(
    "/{subscription_id}",
    response_model=out.SubscriptionWithSecret,
    summary="Change, pause, re-enable, or rotate the secret (old one valid for an overlap)",
)
async def update(
    ctx: Ctx, request: Request, subscription_id: str, body: subscriptions.SubscriptionPatch
) -> dict:
    async with ctx.begin() as (conn, me):
        return await subscriptions.update(
            conn, me, subscription_id, body, _target(request), ctx.settings.webhook_secret_overlap_seconds
        )


@router.delete("/{subscription_id}", status_code=204)
async def delete(ctx: Ctx, subscription_id: str) -> Response:
    async with ctx.begin() as (conn, me):
        await subscriptions.delete(conn, me, subscription_id)
    return Response(status_code=204)


@router.get("/{subscription_id}/deliveries", response_model=out.DeliveryPage)
async def list_deliveries(
    ctx: Ctx, subscription_id: str, status: str | None = None, limit: Limit = 50, offset: Offset = 0
) -> dict:
    async with ctx.begin() as (conn, me):
        return await delivery_log.list_(conn, me, subscription_id, status=status, limit=limit, offset=offset)


@router.post(
    "/{subscription_id}/deliveries/{delivery_id}/redeliver",
    status_code=202,
    response_model=out.Delivery,
    summary="Send a delivery again with the same webhook-id",
)
async def redeliver(ctx: Ctx, subscription_id: str, delivery_id: str) -> dict:
    async with ctx.begin() as (conn, me):
        return await delivery_log.redeliver(
            conn, me, subscription_id, delivery_id, Policy.from_settings(ctx.settings)
        )


@router.post(
    "/{subscription_id}/ping",
    status_code=202,
    response_model=out.Delivery,
    summary="Queue a webhook.ping to this subscription",
)
async def ping(ctx: Ctx, subscription_id: str) -> dict:
    async with ctx.begin() as (conn, me):
        return await delivery_log.ping(conn, me, subscription_id, Policy.from_settings(ctx.settings))


def document_events(app: FastAPI) -> None:
    """Publish one body schema per event type in the OpenAPI document's ``webhooks`` section."""
    for type_ in webhook_events.DATA_MODELS:
        model = webhook_events.envelope_model(type_)

        async def _event(body: model) -> None:  # type: ignore[valid-type]  # documentation only, never called
            return None

        app.webhooks.post(
            type_,
            summary=f"{type_} event",
            status_code=200,
            description="Signed per Standard Webhooks (webhook-id, webhook-timestamp, "
            "webhook-signature); answer 2xx within the timeout.",
        )(_event)
