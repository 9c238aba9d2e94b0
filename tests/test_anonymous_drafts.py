"""A visitor without a session cannot fill the database through refused forms (issue 18 review).

The public objection form counts every post against the objection allowance before anything is kept,
refused ones too; past it nothing is kept. Every anonymous refusal (login, objection, looking one up)
is a draft only within its own per-address allowance, and a small one: what was typed is cut to its
field's length and the whole draft to ``form_drafts.MAX_BYTES_ANONYMOUS``.
"""

import json

import sqlalchemy as sa

from app.db.engine import create_engine
from app.db.models import form_drafts as drafts_table
from app.domain.people import form_drafts
from tests.conftest import ADMIN_PASSWORD, RunningApp
from tests.helpers import PASSWORD, Api
from tests.test_notices import _case_on_notice, _public


async def _draft_bodies(database_url: str) -> list[dict]:
    db = create_engine(database_url)
    try:
        async with db.connect() as conn:
            rows = (await conn.execute(sa.select(drafts_table.c.body))).all()
    finally:
        await db.dispose()
    return [dict(r.body) for r in rows]


async def _csrf(api: Api, path: str) -> str:
    page = await api.client.get(path)
    return page.text.split('name="csrf_token" value="')[1].split('"')[0]


async def test_refused_objections_count_and_keep_nothing_past_the_allowance(database_url):
    async with RunningApp(database_url, objection_rate_limit="3/10 minutes") as client:
        api = Api(client, database_url)
        await api.setup_places_and_people(ADMIN_PASSWORD)
        await _case_on_notice(api, "刘六")
        notice = (await _public(api, "/notices")).json()[0]
        path = f"/ui/public/notices/{notice['id']}"
        token = await _csrf(api, path)
        # Three refused posts (no entry chosen, a reason far too long) spend the allowance of three.
        huge = "a" * 900_000  # under the body limit of a form post
        for reason in ("短", huge, "理由足够长但没有选公示对象"):
            r = await client.post(path + "/objections", data={"csrf_token": token, "reason": reason})
            assert r.status_code == 303 and "draft=" in r.headers["location"], r.text[:300]
        shown = await client.get(r.headers["location"])
        assert shown.status_code == 422 and "请选择异议对象的公示序号" in shown.text
        bodies = await _draft_bodies(database_url)
        assert len(bodies) == 3
        for body in bodies:
            assert len(json.dumps(body, ensure_ascii=False).encode()) <= form_drafts.MAX_BYTES_ANONYMOUS
            assert len(body["raw"]["reason"]) <= 2000  # what is shown again is cut to the field's length
        # The fourth post, a valid one, is refused by the limit: not filed, not kept.
        entry = (await _public(api, f"/notices/{notice['id']}")).json()["entries"][0]
        r = await client.post(
            path + "/objections",
            data={"csrf_token": token, "entry_id": entry["id"], "reason": "第四次提交的异议理由"},
        )
        assert (
            r.status_code == 303
            and "limited=" in r.headers["location"]
            and "draft=" not in r.headers["location"]
        )
        shown = await client.get(r.headers["location"])
        assert shown.status_code == 429 and "提交过于频繁" in shown.text and "第四次提交" not in shown.text
        assert await api.count("objections") == 0
        assert await api.count("form_drafts") == 3


async def test_anonymous_drafts_have_their_own_allowance_per_address(database_url):
    async with RunningApp(database_url, anonymous_form_rate_limit="2/10 minutes") as client:
        api = Api(client, database_url)
        await api.setup_places_and_people(ADMIN_PASSWORD)
        token = await _csrf(api, "/ui/login")
        locations = []
        for _ in range(3):
            r = await client.post(
                "/ui/login", data={"csrf_token": token, "username": "town_a", "password": "wrong-password"}
            )
            assert r.status_code == 303
            locations.append(r.headers["location"])
        assert all("draft=" in loc for loc in locations[:2]) and "limited=" in locations[2]
        assert await api.count("form_drafts") == 2
        third = await client.get(locations[2])
        assert third.status_code == 429 and "提交过于频繁" in third.text
        # The limit's message is fixed: a link cannot make the page say anything else, or a wrong status.
        for query in ("limited=abc", "limited=-5", "limited=%E4%BD%A0"):
            forged = await client.get("/ui/login?" + query)
            assert forged.status_code == 200 and "提交过于频繁" not in forged.text
        # A logged-in reviewer's refusals are not limited by the visitors' allowance.
        r = await client.post(
            "/ui/login", data={"csrf_token": token, "username": "town_a", "password": PASSWORD}
        )
        assert r.status_code == 303 and r.headers["location"] == "/ui/", r.headers
        token = await _csrf(api, "/ui/password")
        for _ in range(3):
            r = await client.post("/ui/password", data={"csrf_token": token, "current_password": "not-it"})
            assert r.status_code == 303 and "draft=" in r.headers["location"], r.headers["location"]
        assert await api.count("form_drafts") == 5


def test_a_draft_is_cut_to_its_allowance():
    body = {"status": 422, "error": "请修改", "raw": {"reason": "长" * 10_000}, "errors": {"reason": "太长"}}
    cut = form_drafts.bounded(body, form_drafts.MAX_BYTES_ANONYMOUS)
    assert cut["raw"]["reason"] == "长" * form_drafts.MAX_TEXT and cut["errors"] == {"reason": "太长"}
    many = {"status": 422, "error": "请修改", "raw": {f"f{i}": "x" * 3000 for i in range(20)}}
    assert form_drafts.bounded(many, form_drafts.MAX_BYTES_ANONYMOUS) == {"status": 422, "error": "请修改"}
    listed = {"status": 422, "error": "上传失败", "problems": [{"message": "y" * 3000}] * 40}
    assert form_drafts.bounded(listed, form_drafts.MAX_BYTES_ANONYMOUS) == {
        "status": 422,
        "error": "上传失败",
    }
    small = {"status": 409, "error": "已处理", "raw": {"a": "b"}}
    assert form_drafts.bounded(small, form_drafts.MAX_BYTES_ANONYMOUS) == small
