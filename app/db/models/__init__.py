"""The tables. Queries live in the domain services; this package only declares shape.

Hot paths (inbox, completion) use SQLAlchemy Core on ``Model.__table__``; the SQLModel
classes are the single declaration of each table and its indexes, grouped by what they hold
(``people``, ``cases``, ``records``, ``programs``). The names below are what the rest of the
code imports.
"""

import sqlalchemy as sa
from sqlmodel import SQLModel

from app.db.models.base import metadata as metadata
from app.db.models.cases import (
    Application,
    CaseCopy,
    CaseNumberCounter,
    DefinitionFile,
    EarlyMessage,
    FollowUp,
    IdempotencyKey,
    MessageWait,
    ProcessDefinition,
    Rollout,
    SavedView,
    Task,
    TaskSigner,
    Timer,
)
from app.db.models.materials import Attachment
from app.db.models.payments import BankAccount, PaymentBatch, PaymentItem, PaymentLeftOut, PaymentScan
from app.db.models.people import (
    ApiKey,
    Division,
    FormDraft,
    Grant,
    InstallationSecret,
    RateLimitHit,
    ServiceClock,
    User,
    WebSession,
)
from app.db.models.programs import Benefit, CalendarYear, Panel, ProgramSetting, SamplePool
from app.db.models.records import (
    Event,
    Notice,
    NoticeEntry,
    Objection,
    OutboxMessage,
    WebhookDelivery,
    WebhookSubscription,
)
from app.db.models.reports import ReportDelta, ReportRollup


def _table(model: type[SQLModel]) -> sa.Table:
    """The Core table SQLModel made for ``model``."""
    # SQLModel's metaclass sets __table__ on every table=True class but its types do not declare it.
    table = model.__table__  # type: ignore[attr-defined]
    assert isinstance(table, sa.Table)
    return table


divisions = _table(Division)
users = _table(User)
api_keys = _table(ApiKey)
grants = _table(Grant)
process_definitions = _table(ProcessDefinition)
definition_files = _table(DefinitionFile)
applications = _table(Application)
tasks = _table(Task)
timers = _table(Timer)
message_waits = _table(MessageWait)
idempotency_keys = _table(IdempotencyKey)
events = _table(Event)
outbox = _table(OutboxMessage)
service_clock = _table(ServiceClock)
installation_secrets = _table(InstallationSecret)
calendar_years = _table(CalendarYear)
rollouts = _table(Rollout)
notices = _table(Notice)
notice_entries = _table(NoticeEntry)
objections = _table(Objection)
webhook_subscriptions = _table(WebhookSubscription)
webhook_deliveries = _table(WebhookDelivery)
early_messages = _table(EarlyMessage)
program_settings = _table(ProgramSetting)
benefits = _table(Benefit)
sample_pools = _table(SamplePool)
panels = _table(Panel)
task_signers = _table(TaskSigner)
case_copies = _table(CaseCopy)
web_sessions = _table(WebSession)
saved_views = _table(SavedView)
rate_limit_hits = _table(RateLimitHit)
case_number_counters = _table(CaseNumberCounter)
case_followups = _table(FollowUp)
payment_batches = _table(PaymentBatch)
payment_items = _table(PaymentItem)
payment_left_out = _table(PaymentLeftOut)
bank_accounts = _table(BankAccount)
payment_scans = _table(PaymentScan)
attachments = _table(Attachment)
report_deltas = _table(ReportDelta)
report_rollups = _table(ReportRollup)
form_drafts = _table(FormDraft)
