"""Demo data: places of 濉溪县, reviewers at township and county, a portal key and cases in several stages."""

from app.config import Settings
from app.db.engine import create_engine, transaction
from app.domain import accounts, applications, divisions, notices, objections, tasks
from app.domain.errors import Conflict
from app.domain.id_numbers import check_character
from app.domain.principal import Principal
from app.main import create_app, startup

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
USERS = [
    ("admin", "系统管理员", "admin", None),
    ("zhang.wei", "张伟（濉溪镇民政办）", "township_civil_affairs", "340621100"),
    ("li.na", "李娜（临涣镇民政办）", "township_civil_affairs", "340621101"),
    ("wang.fang", "王芳（濉溪县民政局）", "county_civil_affairs", "340621"),
]


def demo_id_number(serial: int) -> str:
    first17 = f"34062119{60 + serial:02d}0101{serial:03d}"
    return first17 + check_character(first17)


async def _advance(conn, reviewer: Principal, app_id: str, steps: list[dict]) -> None:
    for data in steps:
        open_tasks = await applications.open_tasks_of(conn, app_id)
        await tasks.complete(conn, reviewer, open_tasks[0]["id"], data)


async def load_demo(settings: Settings) -> list[str]:
    app = create_app(settings)
    app.state.db = db = create_engine(settings.database_url)
    lines = []
    try:
        await startup(app)
        async with transaction(db) as conn:
            await divisions.upsert(conn, [divisions.DivisionIn(code=c, name=n, parent_code=p, level=lv)
                                          for c, n, p, lv in PLACES], "demo")
            for username, display, role, code in USERS:
                try:
                    await accounts.create_user(conn, accounts.UserIn(
                        username=username, password=DEMO_PASSWORD, display_name=display,
                        grants=[accounts.GrantIn(role=role, division_code=code)]), "demo")
                except Conflict:
                    pass
            try:
                key = await accounts.create_api_key(conn, accounts.ApiKeyIn(
                    name="demo-portal", grants=[accounts.GrantIn(role="portal", division_code="340621")]), "demo")
                lines.append(f"portal API key (shown once): X-API-Key: {key['key']}")
            except Conflict:
                lines.append("portal API key 'demo-portal' exists already (its key was shown when it was created)")

        zhang = await accounts_principal(db, "zhang.wei")
        li = await accounts_principal(db, "li.na")
        approve, accept = {"decision": "approve", "opinion": "经入户调查，情况属实"}, {"decision": "accept"}
        stories = [
            ("DEMO-1", "赵小红", "340621100201", zhang, []),                       # waiting for acceptance
            ("DEMO-2", "钱大海", "340621100201", zhang, [accept]),                 # initial review
            ("DEMO-3", "孙秀英", "340621101201", li, [accept, approve]),           # public notice
            ("DEMO-4", "周建国", "340621101201", li, [accept, approve]),           # objection → reinvestigation
            ("DEMO-5", "吴桂兰", "340621100201", zhang,                            # refusal notice to deliver
             [accept, {"decision": "refuse", "reason": "家庭人均收入高于当地低保标准"}]),
        ]
        for serial, (ref, name, village, reviewer, steps) in enumerate(stories, start=1):
            async with transaction(db) as conn:
                try:
                    _, created = await applications.create(conn, reviewer, applications.ApplicationIn(
                        program="dibao", division_code=village, external_ref=ref,
                        applicant=applications.Applicant(name=name, id_number=demo_id_number(serial), phone="13800000000"),
                        data={"household_size": 2 + serial % 3, "monthly_income_per_person": 300}))
                except Conflict:
                    continue
                await _advance(conn, reviewer, created["id"], steps)
                if ref == "DEMO-4":  # a villager objects on the public form, as citizens do
                    (entry,) = await notices.entries_of_application(conn, created["id"])
                    await objections.submit(conn, entry["notice_id"], objections.ObjectionIn(
                        entry_id=entry["entry_id"], reason="村民反映其家庭有经营性收入"))
        lines += [
            "demo users (password: %s):" % DEMO_PASSWORD,
            *[f"  {u:<10} {d}" for u, d, _, _ in USERS],
        ]
    finally:
        await db.dispose()
    return lines


async def accounts_principal(db, username: str) -> Principal:
    async with transaction(db) as conn:
        return await accounts.principal_for_user(conn, username)
