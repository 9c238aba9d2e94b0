"""Demo data: places of 濉溪县, reviewers at township and county, a portal key and cases in several stages."""

import contextlib
import io
from dataclasses import dataclass

import sqlalchemy as sa
from PIL import Image, ImageDraw

from app import storage
from app.config import Settings
from app.db.engine import create_engine, transaction
from app.db.models import applications as app_table
from app.domain.cases import applications, views
from app.domain.errors import Conflict
from app.domain.materials import attachments, files
from app.domain.notices import entries as notices
from app.domain.notices import objections
from app.domain.people import accounts, divisions
from app.domain.people.id_numbers import check_character
from app.domain.people.principal import Principal
from app.domain.tasks import worklist as tasks
from app.domain.timekeeping import service_clock
from app.main import create_app, startup
from app.worker import run_due_work

DEMO_PASSWORD = "aidflow-demo"

PLACES = [
    ("34", "安徽省", None, "province"),
    ("3406", "淮北市", "34", "city"),
    ("340621", "濉溪县", "3406", "county"),
    ("340621100", "濉溪镇", "340621", "township"),
    ("340621101", "临涣镇", "340621", "township"),
    ("340621100201", "濉溪镇东关村", "340621100", "village"),
    ("340621101201", "临涣镇临涣村", "340621101", "village"),
]
# Two reviewers per office: the four-eyes rules (who reviewed may not re-investigate or confirm the
# same case) need a second person to go on.
# Names only: pages add the office and place from the grant (张伟（濉溪镇民政）).
USERS = [
    ("admin", "系统管理员", "admin", None),
    ("zhang.wei", "张伟", "township_civil_affairs", "340621100"),
    ("chen.jing", "陈静", "township_civil_affairs", "340621100"),
    ("li.na", "李娜", "township_civil_affairs", "340621101"),
    ("zhou.min", "周敏", "township_civil_affairs", "340621101"),
    ("wang.fang", "王芳", "county_civil_affairs", "340621"),
    ("liu.yang", "刘洋", "county_civil_affairs", "340621"),
]
ACCEPT = {"decision": "accept"}
APPROVE = {"decision": "approve", "opinion": "经入户调查，情况属实"}
REFUSE = {"decision": "refuse", "reason": "家庭人均收入高于当地低保标准"}
CONFIRM = {"decision": "approve", "opinion": "同意纳入", "monthly_amount": 580, "dibao_class": "B"}


@dataclass(frozen=True)
class Story:
    """One demo case: who takes it how far; ``days_ago`` > 0 starts it that long ago, so its notice
    has ended by today and the county has it (time moved back for it alone, then forward again)."""

    ref: str
    name: str
    village: str
    reviewer: str
    steps: tuple[dict, ...] = ()
    days_ago: int = 0
    county_steps: tuple[dict, ...] = ()
    objection: str | None = None


STORIES = [
    Story("DEMO-1", "赵小红", "340621100201", "zhang.wei"),  # waiting for acceptance
    Story("DEMO-2", "钱大海", "340621100201", "zhang.wei", (ACCEPT,)),  # initial review
    Story("DEMO-3", "孙秀英", "340621101201", "li.na", (ACCEPT, APPROVE)),  # in its public notice
    Story(
        "DEMO-4",
        "周建国",
        "340621101201",
        "li.na",
        (ACCEPT, APPROVE),  # objection: re-investigation
        objection="村民反映其家庭有经营性收入",
    ),
    Story("DEMO-5", "吴桂兰", "340621100201", "zhang.wei", (ACCEPT, REFUSE)),  # refusal notice to deliver
    Story(
        "DEMO-6", "郑春梅", "340621100201", "chen.jing", (ACCEPT, APPROVE), days_ago=12
    ),  # notice ended: at the county
    Story(
        "DEMO-7",
        "冯志强",
        "340621101201",
        "zhou.min",
        (ACCEPT, APPROVE),
        days_ago=14,  # approved by the county
        county_steps=(CONFIRM,),
    ),
]


def demo_id_number(serial: int) -> str:
    first17 = f"34062119{60 + serial:02d}0101{serial:03d}"
    return first17 + check_character(first17)


async def _advance(conn, reviewer: Principal, app_id: str, steps) -> None:
    for data in steps:
        open_tasks = await views.open_tasks_of(conn, app_id)
        await tasks.complete(conn, reviewer, open_tasks[0]["id"], data)


# Documents every demo case comes with (低保 asks for more: acceptance shows what is missing).
DEMO_MATERIALS = (
    ("application_form", "申请书.pdf", "PDF"),
    ("id_card", "身份证.jpg", "JPEG"),
    ("hukou", "户口簿.pdf", "PDF"),
)


def _scan(text: str, fmt: str) -> bytes:
    """A page that looks scanned enough for a demo (ASCII: Pillow's own font has no Chinese)."""
    image = Image.new("RGB", (620, 400), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((16, 16, 604, 384), outline=(180, 40, 40), width=4)
    draw.text((48, 60), text, fill="black", font_size=28)
    draw.text((48, 120), "AidFlow demo document", fill=(90, 90, 90), font_size=20)
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()


async def _attach_materials(conn, settings: Settings, reviewer: Principal, case_id: str) -> None:
    store = storage.from_settings(settings)
    for key, name, fmt in DEMO_MATERIALS:
        clean = files.clean(
            _scan(key, fmt),
            name,
            max_bytes=settings.max_attachment_bytes,
            max_pixels=settings.max_image_pixels,
        )
        await attachments.add(conn, reviewer, case_id, key, clean, await store.put(clean.content), store.name)


async def _exists(db, ref: str) -> bool:
    async with transaction(db) as conn:
        return (
            await conn.execute(sa.select(app_table.c.id).where(app_table.c.external_ref == ref))
        ).first() is not None


async def _tell(db, settings: Settings, serial: int, story: Story) -> None:
    """Create and advance one story's case (nothing when it exists: the loader may run twice)."""
    if await _exists(db, story.ref):
        return
    reviewer = await accounts_principal(db, story.reviewer)
    if story.days_ago:
        async with transaction(db) as conn:
            await service_clock.move(conn, advance_seconds=-story.days_ago * 86400, to=None)
    try:
        async with transaction(db) as conn:
            _, created = await applications.create(
                conn,
                reviewer,
                applications.ApplicationIn(
                    program="dibao",
                    division_code=story.village,
                    external_ref=story.ref,
                    applicant=applications.Applicant(
                        name=story.name, id_number=demo_id_number(serial), phone="13800000000"
                    ),
                    data={"household_size": 2 + serial % 3, "monthly_income_per_person": 300},
                ),
            )
            await _attach_materials(conn, settings, reviewer, created["id"])
            await _advance(conn, reviewer, created["id"], story.steps)
            if story.objection:  # a villager objects on the public form, as citizens do
                (entry,) = await notices.entries_of_application(conn, created["id"])
                await objections.submit(
                    conn,
                    entry["notice_id"],
                    objections.ObjectionIn(entry_id=entry["entry_id"], reason=story.objection),
                )
    finally:
        if story.days_ago:  # back to today: the notice that started then has ended since
            async with transaction(db) as conn:
                await service_clock.move(conn, advance_seconds=story.days_ago * 86400, to=None)
    if story.days_ago:
        await run_due_work(db, settings.claim_stale_working_days)
    if story.county_steps:
        county = await accounts_principal(db, "wang.fang")
        async with transaction(db) as conn:
            await _advance(conn, county, created["id"], story.county_steps)


async def load_demo(settings: Settings) -> list[str]:
    app = create_app(settings)
    app.state.db = db = create_engine(settings.database_url)
    lines = []
    try:
        await startup(app)
        async with transaction(db) as conn:
            await divisions.upsert(
                conn,
                [divisions.DivisionIn(code=c, name=n, parent_code=p, level=lv) for c, n, p, lv in PLACES],
                "demo",
            )
            for username, display, role, code in USERS:
                with contextlib.suppress(Conflict):
                    await accounts.create_user(
                        conn,
                        accounts.UserIn(
                            username=username,
                            password=DEMO_PASSWORD,
                            display_name=display,
                            grants=[accounts.GrantIn(role=role, division_code=code)],
                        ),
                        "demo",
                    )
            try:
                key = await accounts.create_api_key(
                    conn,
                    accounts.ApiKeyIn(
                        name="demo-portal", grants=[accounts.GrantIn(role="portal", division_code="340621")]
                    ),
                    "demo",
                )
                lines.append(f"portal API key (shown once): X-API-Key: {key['key']}")
            except Conflict:
                lines.append(
                    "portal API key 'demo-portal' exists already (shown once, when created); make another with "
                    "`aidflow keys create NAME --role portal --division 340621`"
                )

        for serial, story in enumerate(STORIES, start=1):
            await _tell(db, settings, serial, story)
        lines += [
            f"demo users (password: {DEMO_PASSWORD}):",
            *[f"  {u:<10} {d}" for u, d, _, _ in USERS],
            "demo cases: " + "; ".join(f"{s.ref} {s.name}" for s in STORIES),
        ]
        if settings.clock_movable:
            lines.append(
                "let time pass (a notice ends after 7 days): log in as admin, 管理 → 演示时钟 (/ui/admin/clock)"
            )
    finally:
        await db.dispose()
    return lines


async def accounts_principal(db, username: str) -> Principal:
    async with transaction(db) as conn:
        return await accounts.principal_for_user(conn, username)
