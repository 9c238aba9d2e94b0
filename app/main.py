"""The FastAPI application: ``create_app()`` wires settings, database, routes and the worker."""

import asyncio
from contextlib import asynccontextmanager, suppress

import sqlalchemy as sa
import structlog
from fastapi import FastAPI
from prometheus_client import make_asgi_app

from app import storage, web
from app.api import docs_pages, openapi, problems
from app.api.body_limit import BodyLimit
from app.api.input_guard import InputGuard
from app.api.problems import problem
from app.api.routes import (
    admin,
    applications,
    attachments,
    auth,
    calendar,
    definitions,
    divisions,
    messages,
    notices,
    payments,
    programs,
    public,
    reports,
    supervision,
    tasks,
    webhooks,
)
from app.api.schemas.auth import Health, Ready
from app.api.schemas.problems import problem_responses
from app.config import Settings, get_settings
from app.db import readiness
from app.db.engine import create_engine, create_read_engine, is_unavailable, reading, transaction
from app.domain import installation
from app.domain.cases import rescheduling
from app.domain.money.batch_schedule import PaySchedule
from app.domain.people import accounts, credentials, rate_limits
from app.domain.programs import definitions as definition_service
from app.domain.timekeeping import calendar as calendar_service
from app.domain.timekeeping import service_clock
from app.domain.webhooks.deliveries import Policy
from app.web.refusals import PageForRefusals
from app.worker import run_forever

log = structlog.get_logger(__name__)
STARTUP_LOCK = 0x41494446  # "AIDF": the advisory lock start-up holds while it seeds and deploys


def _warn_if_materials_unencrypted(settings: Settings) -> None:
    """Materials are ID cards and household registers: in a bucket, the store should encrypt them at
    rest. Not refused (a bucket may encrypt by default on its own, which the service cannot always
    read), but said at every start until AIDFLOW_STORAGE_S3_ENCRYPTION is set (docs/operations.md)."""
    if settings.storage_backend == "s3" and not settings.storage_s3_encryption:
        log.warning(
            "storage_s3_unencrypted",
            bucket=settings.storage_s3_bucket,
            effect="materials are written to the bucket without server-side encryption: unless the "
            "bucket encrypts by default, ID cards and household registers rest there in plain",
            fix="set AIDFLOW_STORAGE_S3_ENCRYPTION=AES256 (SSE-S3) or aws:kms with "
            "AIDFLOW_STORAGE_S3_KMS_KEY_ID (SSE-KMS)",
        )


async def startup(app: FastAPI) -> None:
    settings: Settings = app.state.settings
    async with transaction(app.state.db) as conn:
        try:
            await conn.execute(sa.text("SELECT version_num FROM alembic_version"))
        except sa.exc.DBAPIError:
            raise RuntimeError(
                "the database has no AidFlow schema yet: run `aidflow migrate` first"
            ) from None
    if app.state.db.dialect.name == "sqlite":
        log.info(
            "single_process_database",
            hint="SQLite serves one process (API and worker together); "
            "run replicas and separate workers on PostgreSQL",
        )
    _warn_if_materials_unencrypted(settings)
    if not settings.secret_key:  # unset outside production: the installation's own, never a constant
        settings.secret_key = await installation.signing_secret(app.state.db)
    async with transaction(app.state.db) as conn:
        if (
            conn.dialect.name == "postgresql"
        ):  # replicas starting together seed and deploy one after the other
            await conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": STARTUP_LOCK})
        # First: what start-up records (deployments and their events) is stamped on this database's clock.
        await service_clock.load(conn)
        seeded = await calendar_service.seed_from_package(conn)
        days = await calendar_service.load(conn)
        for year in calendar_service.unpublished_years_ahead(days, calendar_service.today()):
            log.warning(
                "calendar_year_not_loaded",
                year=year,
                effect=f"deadlines reaching {year} count weekends only and are marked provisional",
                fix=f"load the State Council's holiday notice for {year} (管理 → 工作日历, or PUT "
                f"/api/v1/admin/calendar/{year}); provisional deadlines are recomputed when it is loaded",
            )
        if seeded:
            log.info("calendar_seeded", years=seeded)
            for year in seeded:  # a newer chinese-calendar may publish a year cases already count on
                await rescheduling.recompute_year(conn, year, "system")
        deployed = await definition_service.deploy_directory(conn, settings.processes_dir)
        for item in deployed:
            log.info("definition_deployed", **item)
        if settings.bootstrap_admin_password and await accounts.ensure_admin(
            conn, settings.bootstrap_admin_password
        ):
            log.info("bootstrap_admin_created", username="admin")
        await service_clock.load(conn)


class SharedTestClock:
    """Reads the test clock's stored offset before each HTTP request (a plain ASGI middleware: one
    autocommit statement, none of BaseHTTPMiddleware's task and streams per request)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            try:
                async with reading(scope["app"].state.reads) as conn:
                    await service_clock.load(conn)
            except Exception as exc:  # the request itself then answers 503 database_unavailable
                if not is_unavailable(exc):
                    raise
        await self.app(scope, receive, send)


def create_app(settings: Settings | None = None, *, run_worker: bool = False) -> FastAPI:
    settings = settings or get_settings()
    if settings.env == "test":
        credentials.hash_cheaply_for_tests()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.db = create_engine(settings.database_url)
        app.state.reads = create_read_engine(settings.database_url, app.state.db)
        worker = None
        try:
            await startup(app)
            if run_worker:
                worker = asyncio.create_task(
                    run_forever(
                        app.state.db,
                        settings.worker_poll_seconds,
                        settings.worker_batch_size,
                        settings.clock_movable,
                        settings.claim_stale_working_days,
                        Policy.from_settings(settings),
                        PaySchedule(settings.payment_day, settings.payment_lead_days),
                    )
                )
            yield
        finally:
            if worker is not None:
                worker.cancel()
                with suppress(asyncio.CancelledError):
                    await worker
            if app.state.reads is not app.state.db:
                await app.state.reads.dispose()
            await app.state.db.dispose()

    app = FastAPI(
        title="AidFlow",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        description="Multi-level approval workflows for social assistance and student aid.",
    )
    docs_pages.install(app)
    app.state.settings = settings
    app.state.store = storage.from_settings(settings)  # materials' bytes (app/storage)
    app.state.shutting_down = False  # set by `aidflow serve` on SIGTERM (app/cli.py)
    problems.install(app)
    openapi.install(app)
    app.state.objection_rate_limit = rate_limits.Rule.parse(settings.objection_rate_limit)
    app.state.anonymous_form_rate_limit = rate_limits.Rule.parse(settings.anonymous_form_rate_limit)
    for module in (
        auth,
        admin,
        calendar,
        definitions,
        divisions,
        applications,
        attachments,
        programs,
        payments,
        tasks,
        messages,
        supervision,
        reports,
        notices,
        public,
        webhooks,
    ):
        app.include_router(module.router, prefix="/api/v1")
    webhooks.document_events(app)

    web.install(app)  # the reviewer UI under /ui, after problems.install: it wraps the problem handler

    if settings.clock_movable and not settings.database_url.startswith("sqlite"):
        # Several test- or demo-mode processes on one PostgreSQL database: each request reads the clock another
        # process may have moved (SQLite is one process; its in-process apps share the module's clock).
        app.add_middleware(SharedTestClock)
    app.add_middleware(InputGuard)  # inside BodyLimit: it only ever buffers a bounded body
    app.add_middleware(
        BodyLimit,
        max_json_bytes=settings.max_json_bytes,
        max_upload_bytes=settings.max_upload_bytes,
        max_attachment_bytes=settings.max_attachment_bytes,
    )
    app.add_middleware(PageForRefusals)  # outside both: their refusals under /ui/ as Chinese pages
    app.mount("/metrics", make_asgi_app())

    @app.get("/healthz", tags=["ops"], response_model=Health, responses=problem_responses(500))
    async def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"], response_model=Ready, responses=problem_responses(500, 503))
    async def readyz():
        # Draining first: a load balancer must stop sending before the process stops accepting.
        reasons = ["shutting down"] if app.state.shutting_down else await readiness.problems(app.state.db)
        if reasons:
            return problem(503, "not_ready", "; ".join(reasons), reasons=reasons)
        return {"status": "ready"}

    return app
