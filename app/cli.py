"""The ``aidflow`` command: migrate, serve, worker, demo, prune."""

import asyncio
import signal

import typer
import uvicorn

from app import logs
from app.config import get_settings

cli = typer.Typer(help="AidFlow: multi-level approval workflows.", no_args_is_help=True)


@cli.callback()
def _setup() -> None:
    settings = get_settings()
    logs.configure(settings.log_level, settings.log_json)


@cli.command()
def migrate() -> None:
    """Upgrade the database schema to the newest Alembic revision."""
    from app.db.migrate import upgrade_to_head_sync

    upgrade_to_head_sync(get_settings().database_url)
    typer.echo("database schema is up to date")


@cli.command()
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    no_worker: bool = typer.Option(
        False, "--no-worker", help="serve the API only; run `aidflow worker` apart"
    ),
) -> None:
    """Serve the REST API (with an in-process worker unless --no-worker)."""
    from app.main import create_app

    typer.echo(f"AidFlow API on http://{host}:{port}/api/v1  (OpenAPI docs: http://{host}:{port}/docs)")
    settings = get_settings()
    trusted = settings.trusted_proxy_list
    app = create_app(run_worker=not no_worker)
    # uvicorn would otherwise believe X-Forwarded-For from any loopback peer.
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted or None,
        # Annotated int by uvicorn, used as asyncio.wait_for's timeout, which takes fractions of a second.
        timeout_graceful_shutdown=settings.shutdown_grace_seconds,  # type: ignore[arg-type]
    )
    _DrainingServer(config, app, settings.shutdown_drain_seconds).run()


class _DrainingServer(uvicorn.Server):
    """On the first SIGTERM/SIGINT: not ready at once, still serving for the drain, then uvicorn's own
    graceful stop (no new connections, in-flight requests finish within the grace). A second signal
    stops at once, as uvicorn does."""

    def __init__(self, config: uvicorn.Config, app, drain_seconds: float):
        super().__init__(config)
        self._app, self._drain = app, drain_seconds

    def handle_exit(self, sig, frame) -> None:
        if self._app.state.shutting_down or self._drain <= 0:
            self._app.state.shutting_down = True
            return super().handle_exit(sig, frame)
        self._app.state.shutting_down = True
        typer.echo(f"shutting down: not ready, draining for {self._drain:g} s")
        asyncio.get_running_loop().call_later(self._drain, super().handle_exit, sig, frame)


@cli.command()
def worker(
    metrics_port: int = typer.Option(
        0, "--metrics-port", help="serve Prometheus metrics on this port (0: none)"
    ),
    metrics_host: str = typer.Option("0.0.0.0", "--metrics-host"),
) -> None:
    """Run only the background worker (timers, webhooks), for scaled deployments."""
    from app.db.engine import create_engine
    from app.domain.money.batch_schedule import PaySchedule
    from app.domain.webhooks.deliveries import Policy
    from app.worker import run_forever

    settings = get_settings()
    if metrics_port:
        from prometheus_client import start_http_server

        start_http_server(metrics_port, metrics_host)

    async def _main() -> None:
        db = create_engine(settings.database_url)
        task = asyncio.create_task(
            run_forever(
                db,
                settings.worker_poll_seconds,
                settings.worker_batch_size,
                settings.clock_movable,
                settings.claim_stale_working_days,
                Policy.from_settings(settings),
                PaySchedule(settings.payment_day, settings.payment_lead_days),
            )
        )
        # SIGTERM cancels the round: a timer's transaction rolls back (the timer stays due) and the
        # webhook claims in flight are released (app/delivery.py), so another worker takes them at once.
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, task.cancel)
        try:
            await task
        except asyncio.CancelledError:
            typer.echo("worker stopped")
        finally:
            await db.dispose()

    asyncio.run(_main())


@cli.command()
def prune(
    dry_run: bool = typer.Option(False, "--dry-run", help="count what would be deleted; delete nothing"),
) -> None:
    """Delete working rows past their retention (AIDFLOW_RETENTION_*), materials past their program's
    retention, stored objects no row names and temporary files of interrupted local writes
    (docs/materials.md), in batches; safe while the service runs."""
    from datetime import timedelta

    from app import storage
    from app.db.engine import create_engine
    from app.domain import retention
    from app.domain.materials import lifecycle
    from app.domain.timekeeping import service_clock

    settings = get_settings()

    async def _main() -> tuple[list[str] | None, dict[str, int]]:
        db = create_engine(settings.database_url)
        try:
            if settings.clock_movable:  # the shared, movable clock ages what was written on it
                async with db.connect() as conn:
                    await service_clock.load(conn)
            created = None if dry_run else await retention.prepare_partitions(db)
            counts = await retention.prune(db, retention.Retention.from_settings(settings), dry_run=dry_run)
            materials = await lifecycle.prune(
                db,
                storage.from_settings(settings),
                timedelta(seconds=settings.storage_orphan_grace_seconds),
                settings.prune_batch_size,
                dry_run=dry_run,
            )
            return created, {**counts, **materials.as_dict()}
        finally:
            await db.dispose()

    created, counts = asyncio.run(_main())
    if created is not None:  # PostgreSQL: the coming months' partitions of events
        typer.echo(f"events partitions created: {', '.join(created) or 'none needed'}")
    verb = "would delete" if dry_run else "deleted"
    for table, count in counts.items():
        typer.echo(f"{table}: {verb} {count}")
    typer.echo(f"total: {verb} {sum(counts.values())}")


@cli.command("rotate-account-keys")
def rotate_account_keys() -> None:
    """Re-encrypt bank account numbers under the first of AIDFLOW_PAYMENT_ACCOUNT_KEYS (docs/payments.md)."""
    from app.db.engine import create_engine, transaction
    from app.domain import installation
    from app.domain.money import bank_accounts
    from app.domain.money.vault import Vault

    settings = get_settings()

    async def _main() -> int:
        db = create_engine(settings.database_url)
        try:
            secret = settings.secret_key or await installation.signing_secret(db)
            vault = Vault.from_settings(settings.payment_account_keys, secret, settings.env)
            total = 0
            while True:  # bounded transactions, so it runs beside the service
                async with transaction(db) as conn:
                    done = await bank_accounts.rotate(conn, vault)
                total += done
                if done == 0:
                    return total
        finally:
            await db.dispose()

    typer.echo(f"bank accounts re-encrypted: {asyncio.run(_main())}")


stats = typer.Typer(help="Report figures (docs/reports.md).")
cli.add_typer(stats, name="stats")


@stats.command("rebuild")
def rebuild_stats() -> None:
    """Recompute every report rollup from the audit trail, in one transaction (safe while the service runs)."""
    from app.db.engine import create_engine, transaction
    from app.domain.reports import rollups

    settings = get_settings()

    async def _main() -> int:
        db = create_engine(settings.database_url)
        try:
            async with transaction(db) as conn:
                return await rollups.rebuild(conn)
        finally:
            await db.dispose()

    typer.echo(f"report rollups rebuilt: {asyncio.run(_main())} rows")


keys = typer.Typer(help="API keys for portals (the key is shown once, when made).")
cli.add_typer(keys, name="keys")


@keys.command("create")
def create_key(
    name: str = typer.Argument(..., help="a name for the key, e.g. the portal's"),
    role: str = typer.Option("portal", help="the role the key holds"),
    division: str = typer.Option(..., help="the division code where the role holds"),
) -> None:
    """Make an API key and print it (it is stored hashed: this is the only time it is shown)."""
    from app.db.engine import create_engine, transaction
    from app.domain.errors import DomainError
    from app.domain.people import accounts

    settings = get_settings()

    async def _main() -> dict:
        db = create_engine(settings.database_url)
        try:
            async with transaction(db) as conn:
                return await accounts.create_api_key(
                    conn,
                    accounts.ApiKeyIn(
                        name=name, grants=[accounts.GrantIn(role=role, division_code=division)]
                    ),
                    "cli",
                )
        finally:
            await db.dispose()

    try:
        made = asyncio.run(_main())
    except DomainError as exc:
        typer.echo(f"refused: {exc.code}: {exc.detail}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"API key {made['name']} (shown once): X-API-Key: {made['key']}")


@cli.command()
def demo() -> None:
    """Load demo places, users and a few cases in different stages (safe to run twice)."""
    from app.demo import load_demo

    for line in asyncio.run(load_demo(get_settings())):
        typer.echo(line)


def main() -> None:
    cli()
