"""The shared rate limit: exact over any window, an honest Retry-After, one bucket per IPv6 /64,
the same answer from the API and the web page, and settings that cannot prune counted hits."""

import pytest
import sqlalchemy as sa

from app.db.engine import create_engine
from app.db.models import rate_limit_hits
from app.domain.errors import TooMany
from app.domain.people import rate_limits
from tests.conftest import make_settings
from tests.helpers import Api

RULE = rate_limits.Rule.parse("3/10 seconds")


async def _db_now_ms(conn) -> int:
    return await rate_limits._now_ms(conn)


async def _hit(db, address: str, rule=RULE) -> int | None:
    """None when allowed, else the Retry-After in seconds."""
    try:
        async with db.begin() as conn:
            await rate_limits.hit(conn, "objection", address, rule)
    except TooMany as exc:
        return exc.extra["retry_after"]
    return None


async def test_hits_late_in_a_window_still_count_early_in_the_next(database_url):
    """Three hits 2 s ago under 3 per 10 s: the fourth is refused until they are 10 s old (the
    fixed-window estimate let them through at the next window's end, twice the allowance)."""
    db = create_engine(database_url)
    try:
        async with db.begin() as conn:
            now = await _db_now_ms(conn)
            await conn.execute(
                sa.insert(rate_limit_hits),
                [
                    {"scope": "objection", "client": "10.0.0.7", "at_ms": now - 2000 - i, "hits": 1}
                    for i in range(3)
                ],
            )
        retry = await _hit(db, "10.0.0.7")
        assert retry is not None and 7 <= retry <= 8  # the oldest of the three leaves the window in ~8 s
        assert await _hit(db, "10.0.0.8") is None  # another address has its own allowance
    finally:
        await db.dispose()


async def test_retry_after_is_when_a_hit_is_really_allowed_again(database_url):
    """Hits 9.5 s and 1 s old: after ~0.5 s the older leaves and one more is allowed, not before."""
    db = create_engine(database_url)
    try:
        async with db.begin() as conn:
            now = await _db_now_ms(conn)
            await conn.execute(
                sa.insert(rate_limit_hits),
                [
                    {"scope": "objection", "client": "10.0.0.9", "at_ms": now - 9500, "hits": 1},
                    {"scope": "objection", "client": "10.0.0.9", "at_ms": now - 1000, "hits": 2},
                ],
            )
        assert await _hit(db, "10.0.0.9") == 1
        async with db.begin() as conn:  # both younger hits must leave before a fourth: ~9 s
            await conn.execute(
                sa.update(rate_limit_hits)
                .where(rate_limit_hits.c.client == "10.0.0.9", rate_limit_hits.c.at_ms == now - 9500)
                .values(at_ms=now - 1500)
            )
        retry = await _hit(db, "10.0.0.9")
        assert retry is not None and 8 <= retry <= 9
        async with db.connect() as conn:  # refused hits are not stored
            stored = (await conn.execute(sa.select(sa.func.sum(rate_limit_hits.c.hits)))).scalar_one()
        assert stored == 3
    finally:
        await db.dispose()


async def test_an_ipv6_household_is_one_bucket(database_url):
    assert rate_limits.client_key("2001:db8:0:0:1::1") == "2001:db8::/64"
    assert rate_limits.client_key("::ffff:192.0.2.5") == "192.0.2.5"
    assert rate_limits.client_key(None) == rate_limits.client_key("not an address") == "unknown"
    db = create_engine(database_url)
    try:
        answers = [await _hit(db, f"2001:db8::{i:x}") for i in range(1, 5)]  # one /64, four addresses
        assert answers[:3] == [None] * 3 and answers[3] is not None
        assert await _hit(db, "2001:db8:0:1::1") is None  # the neighbouring /64
    finally:
        await db.dispose()


async def test_the_web_page_refuses_with_the_same_retry_after_as_the_api(api: Api):
    from tests.test_notices import _case_on_notice, _public

    await _case_on_notice(api, "刘六")
    notice = (await _public(api, "/notices")).json()[0]
    entry = (await _public(api, f"/notices/{notice['id']}")).json()["entries"][0]
    for i in range(10):  # the default allowance, 10 per 10 minutes, spent through the API
        r = await api.client.post(
            f"/api/v1/public/notices/{notice['id']}/objections",
            json={"entry_id": entry["id"], "reason": f"第{i}条异议：有收入"},
        )
        assert r.status_code == 202, r.text
    page = await api.client.get(f"/ui/public/notices/{notice['id']}")
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    r = await api.client.post(
        f"/ui/public/notices/{notice['id']}/objections",
        data={"csrf_token": token, "entry_id": entry["id"], "reason": "网页提交的异议理由"},
    )
    # POST/redirect/GET: the refusal is shown by the notice's GET page, with the API's status and header;
    # past the allowance nothing of what was posted is kept, not even as a draft.
    assert r.status_code == 303 and "limited=" in r.headers["location"], r.text[:500]
    assert "draft=" not in r.headers["location"]
    shown = await api.client.get(r.headers["location"])
    assert shown.status_code == 429 and "提交过于频繁" in shown.text, shown.text[:500]
    assert 0 < int(shown.headers["retry-after"]) <= 600
    assert "网页提交的异议理由" not in shown.text
    assert await api.count("objections") == 10
    assert await api.count("form_drafts") == 0


def test_settings_refuse_a_retention_shorter_than_the_window_and_a_bad_rule(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"
    with pytest.raises(ValueError, match="at least"):
        make_settings(url, objection_rate_limit="10/day", retention_rate_limit_seconds=3600)
    with pytest.raises(ValueError, match="AIDFLOW_OBJECTION_RATE_LIMIT"):
        make_settings(url, objection_rate_limit="ten a minute")
    with pytest.raises(ValueError, match="AIDFLOW_ANONYMOUS_FORM_RATE_LIMIT"):
        make_settings(url, anonymous_form_rate_limit="1/week", retention_rate_limit_seconds=86400)
    accepted = make_settings(url, objection_rate_limit="10/day", retention_rate_limit_seconds=86400)
    assert (accepted.objection_rate_limit, accepted.retention_rate_limit_seconds) == ("10/day", 86400)
