"""Settings from the environment (prefix ``AIDFLOW_``), validated once at start-up."""

import ipaddress
from functools import lru_cache
from pathlib import Path
from typing import Literal

from limits import parse as parse_limit
from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AIDFLOW_", env_file=".env", extra="ignore")

    # "demo": like development, but time can be moved (GET/POST /admin/clock, a button on the admin
    # page), so a demo crosses a 7-day notice in a click. "test" adds cheap password hashing.
    env: Literal["development", "demo", "test", "production"] = "development"
    # Unset means the embedded SQLite file next to the project.
    database_url: str = f"sqlite+aiosqlite:///{PROJECT_ROOT / 'aidflow.db'}"
    # Signs tokens and CSRF tokens. Unset outside production: the installation generates its own
    # and keeps it in the database (installation_secrets), so every process agrees.
    secret_key: str | None = None
    token_ttl_seconds: int = 8 * 3600
    # Web UI sessions end after this long without a request (and token_ttl_seconds after login).
    ui_idle_seconds: int = 2 * 3600
    processes_dir: Path = PROJECT_ROOT / "processes"
    bootstrap_admin_password: str | None = None
    worker_poll_seconds: float = 2.0
    worker_batch_size: int = 100
    max_upload_bytes: int = 2 * 1024 * 1024
    # Every other request is JSON; this caps it before it is parsed.
    max_json_bytes: int = 1024 * 1024
    # A claim unused this many working days goes back to the group (0: never).
    claim_stale_working_days: int = 3
    # Objections accepted per client address (syntax of the `limits` library).
    objection_rate_limit: str = "10/10 minutes"
    # Refused forms of visitors without a session (login, objections, looking one up) kept as drafts
    # per client address; past it the page shows "too many" and nothing is kept.
    anonymous_form_rate_limit: str = "30/10 minutes"
    # Outgoing webhooks (retry times are on the service clock).
    webhook_timeout_seconds: float = 10.0
    webhook_retry_base_seconds: float = 30.0
    webhook_retry_max_seconds: float = 6 * 3600.0
    # A delivery still failing this long after its event is dead-lettered.
    webhook_max_age_seconds: float = 3 * 86400.0
    # A subscription whose deliveries have failed this long without one success is disabled.
    webhook_disable_after_seconds: float = 5 * 86400.0
    # After a secret rotation the previous secret also signs for this long.
    webhook_secret_overlap_seconds: float = 86400.0
    webhook_batch_size: int = 50
    # A worker's claim on a delivery lasts the send's timeout plus this margin (the database's wall
    # clock); a worker killed mid-send leaves the delivery to another worker once the claim has run
    # out. At least deliveries.MIN_LEASE_MARGIN_SECONDS (5 s): the claim and the result need time too.
    webhook_lease_margin_seconds: float = Field(default=60.0, ge=5, le=3600)
    # Reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (comma-separated IPs or
    # networks). Empty: none, the direct peer is the client (rate limits key on it).
    trusted_proxies: str = ""
    # The service's own public address, so subscriptions cannot point back at it.
    public_base_url: str | None = None
    # Retention (`aidflow prune`): how long working rows are kept once they have served their purpose.
    # Never pruned: events (audit trail, case history), cases and decisions, benefits, notices, objections.
    retention_outbox_days: int = Field(default=30, ge=1)  # outbox rows handed over, no delivery left
    retention_webhook_deliveries_days: int = Field(
        default=30, ge=1
    )  # delivered or dead, since the last attempt
    retention_web_sessions_grace_seconds: int = Field(
        default=0, ge=0
    )  # after a session ended (idle or absolute)
    retention_idempotency_days: int = Field(default=30, ge=1)  # a retry later than this is a new request
    # At least as long as any rate-limit window (checked at start): pruning counted hits would reset allowances.
    retention_rate_limit_seconds: int = Field(default=86400, ge=3600)
    retention_early_messages_days: int = Field(
        default=90, ge=1
    )  # after use (then in its case's events) or expiry
    prune_batch_size: int = Field(default=1000, ge=1, le=100_000)  # rows per transaction
    # An object in the store that no row names (a crash between the put and the insert, or materials
    # past their program's retention) is deleted by `aidflow prune` once it is this old.
    storage_orphan_grace_seconds: int = Field(default=86400, ge=0)
    # SIGTERM to `aidflow serve`: /readyz answers 503 for DRAIN seconds while requests are still taken
    # (the load balancer notices and stops sending), then in-flight requests get GRACE seconds to finish.
    shutdown_drain_seconds: float = Field(default=5.0, ge=0, le=300)
    shutdown_grace_seconds: float = Field(default=30.0, ge=0, le=600)
    # Payments (docs/payments.md). Fernet keys for bank account numbers, comma-separated, the first
    # encrypts. Unset in production: bank accounts cannot be stored or read (422 payment_keys_missing);
    # unset elsewhere: a key derived from the signing secret.
    payment_account_keys: str | None = None
    # Monthly allowances are paid on this day of each month; the worker builds the batch this many days
    # before (and a county office may build it earlier through the API).
    payment_day: int = Field(default=1, ge=1, le=28)
    payment_lead_days: int = Field(default=5, ge=0, le=27)
    # Materials (docs/materials.md): where attachments are kept and how large one may be.
    storage_backend: Literal["local", "s3"] = "local"
    storage_directory: Path = PROJECT_ROOT / "materials"
    storage_s3_endpoint: str | None = None  # unset: the cloud's own endpoint for the region
    storage_s3_bucket: str | None = None
    storage_s3_region: str | None = None
    storage_s3_access_key_id: str | None = None  # unset: the client's usual chain (environment, role)
    storage_s3_secret_access_key: str | None = None
    # Server-side encryption: "AES256" (SSE-S3), "aws:kms" (with a key id below) or unset.
    storage_s3_encryption: Literal["AES256", "aws:kms"] | None = None
    storage_s3_kms_key_id: str | None = None
    max_attachment_bytes: int = Field(default=10 * 1024 * 1024, ge=1024, le=1024 * 1024 * 1024)
    # Images above this many pixels are refused before they are decoded (decompression bombs).
    max_image_pixels: int = Field(default=40_000_000, ge=10_000)
    log_json: bool = True
    log_level: str = "INFO"

    @property
    def signing_key(self) -> str:
        """What tokens, sessions and CSRF tokens are signed with: ``secret_key``, which start-up sets
        to the installation's own when it is not configured (``app.main``)."""
        if not self.secret_key:
            raise RuntimeError("no signing key: the service sets one when it starts")
        return self.secret_key

    @model_validator(mode="after")
    def _refuse_insecure_production(self) -> "Settings":
        # Fail fast: a production service signing tokens with a published key is worse than none.
        if self.env == "production" and len(self.secret_key or "") < 32:
            raise ValueError("AIDFLOW_SECRET_KEY must be set to 32+ random characters in production")
        return self

    @model_validator(mode="after")
    def _rate_limit_fits_retention(self) -> "Settings":
        # A typo in the rule stops the start, not the first objection; pruning hits still inside the
        # window would hand every client a fresh allowance.
        for name, rule in (
            ("AIDFLOW_OBJECTION_RATE_LIMIT", self.objection_rate_limit),
            ("AIDFLOW_ANONYMOUS_FORM_RATE_LIMIT", self.anonymous_form_rate_limit),
        ):
            try:
                window = parse_limit(rule).get_expiry()
            except ValueError as exc:
                raise ValueError(f"{name} {rule!r}: {exc}") from None
            if self.retention_rate_limit_seconds < window:
                raise ValueError(
                    f"AIDFLOW_RETENTION_RATE_LIMIT_SECONDS ({self.retention_rate_limit_seconds}) must be at "
                    f"least the window of {name} ({window} s)"
                )
        return self

    @model_validator(mode="after")
    def _s3_needs_a_bucket(self) -> "Settings":
        if self.storage_backend == "s3" and not self.storage_s3_bucket:
            raise ValueError("AIDFLOW_STORAGE_S3_BUCKET must be set when AIDFLOW_STORAGE_BACKEND=s3")
        if self.storage_s3_kms_key_id and self.storage_s3_encryption != "aws:kms":
            raise ValueError("AIDFLOW_STORAGE_S3_KMS_KEY_ID needs AIDFLOW_STORAGE_S3_ENCRYPTION=aws:kms")
        return self

    @field_validator("trusted_proxies")
    @classmethod
    def _networks_only(cls, value: str) -> str:
        for item in value.split(","):
            if item.strip():
                ipaddress.ip_network(item.strip(), strict=False)  # a typo stops the start, not the rate limit
        return value

    @property
    def trusted_proxy_list(self) -> list[str]:
        return [item.strip() for item in self.trusted_proxies.split(",") if item.strip()]

    @property
    def clock_movable(self) -> bool:
        """Whether the service clock may be moved (an offset kept in the database, read by every process)."""
        return self.env in ("test", "demo")

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
