"""The tables. Queries live in the domain services; this package only declares shape.

Hot paths (inbox, completion) use SQLAlchemy Core on ``Model.__table__``; the SQLModel
classes are the single declaration of each table and its indexes, grouped by what they hold
(``people``, ``cases``, ``records``, ``programs``). The names below are what the rest of the
code imports.
"""

from app.db.models.base import metadata as metadata
from app.db.models.cases import (
    Application,
    CaseCopy,
    CaseNumberCounter,
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

divisions = Division.__table__
users = User.__table__
api_keys = ApiKey.__table__
grants = Grant.__table__
process_definitions = ProcessDefinition.__table__
applications = Application.__table__
tasks = Task.__table__
timers = Timer.__table__
message_waits = MessageWait.__table__
idempotency_keys = IdempotencyKey.__table__
events = Event.__table__
outbox = OutboxMessage.__table__
service_clock = ServiceClock.__table__
installation_secrets = InstallationSecret.__table__
calendar_years = CalendarYear.__table__
rollouts = Rollout.__table__
notices = Notice.__table__
notice_entries = NoticeEntry.__table__
objections = Objection.__table__
webhook_subscriptions = WebhookSubscription.__table__
webhook_deliveries = WebhookDelivery.__table__
early_messages = EarlyMessage.__table__
program_settings = ProgramSetting.__table__
benefits = Benefit.__table__
sample_pools = SamplePool.__table__
panels = Panel.__table__
task_signers = TaskSigner.__table__
case_copies = CaseCopy.__table__
web_sessions = WebSession.__table__
form_drafts = FormDraft.__table__
saved_views = SavedView.__table__
rate_limit_hits = RateLimitHit.__table__
case_number_counters = CaseNumberCounter.__table__
case_followups = FollowUp.__table__
payment_batches = PaymentBatch.__table__
payment_items = PaymentItem.__table__
payment_left_out = PaymentLeftOut.__table__
bank_accounts = BankAccount.__table__
payment_scans = PaymentScan.__table__
attachments = Attachment.__table__
report_deltas = ReportDelta.__table__
report_rollups = ReportRollup.__table__
