"""The service as users run it: the CLI, a live server over real HTTP, and workers firing timers."""

import asyncio
import os
import subprocess

import httpx
import pytest
from lxml import etree

from app import engine
from app.config import PROJECT_ROOT
from app.db.engine import create_engine
from app.worker import run_due_timers
from tests.conftest import make_settings
from tests.helpers import Api
from tests.live import free_port, wait_until_up
from tests.time_travel import command

# Run a second time with the real date shifted years ahead (scripts/test.sh).
pytestmark = pytest.mark.dates


def test_cli_migrate_demo_and_serve_over_real_http(tmp_path):
    env = {
        **os.environ,
        "AIDFLOW_DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}",
        "AIDFLOW_LOG_JSON": "false",
        "AIDFLOW_STORAGE_DIRECTORY": str(tmp_path / "materials"),
    }
    env.pop("AIDFLOW_ENV", None)

    def run(*args):
        return subprocess.run(command("aidflow", *args), env=env, capture_output=True, text=True, timeout=120)

    assert run("migrate").returncode == 0
    first = run("demo")
    assert first.returncode == 0, first.stderr
    assert "X-API-Key: af_" in first.stdout and "zhang.wei" in first.stdout
    again = run("demo")  # loading twice changes nothing and does not fail
    assert again.returncode == 0 and "exists already" in again.stdout
    key = next(line.split("X-API-Key: ")[1] for line in first.stdout.splitlines() if "X-API-Key" in line)

    port = free_port()
    server = subprocess.Popen(
        command("aidflow", "serve", "--port", str(port)),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}/api/v1"
        wait_until_up(f"http://127.0.0.1:{port}", server)
        token = httpx.post(
            f"{base}/auth/token", data={"username": "zhang.wei", "password": "aidflow-demo"}
        ).json()
        inbox = httpx.get(
            f"{base}/tasks", headers={"Authorization": f"Bearer {token['access_token']}"}
        ).json()
        assert {t["name"] for t in inbox["items"]} >= {"accept_application", "initial_review"}
        # Every demo case comes with three documents, in the store under their SHA-256.
        reviewer = {"Authorization": f"Bearer {token['access_token']}"}
        first_case = inbox["items"][0]["application_id"]
        documents = httpx.get(f"{base}/applications/{first_case}/attachments", headers=reviewer).json()
        assert [d["key"] for d in documents] == ["application_form", "id_card", "hukou"]
        for d in documents:
            assert (tmp_path / "materials" / d["sha256"][:2] / d["sha256"][2:4] / d["sha256"]).is_file()
        cases = {
            c["external_ref"]: c
            for c in httpx.get(f"{base}/applications", headers={"X-API-Key": key}).json()["items"]
        }
        assert sorted(cases) == [f"DEMO-{i}" for i in range(1, 8)]
        assert (
            cases["DEMO-7"]["status"] == "approved"
        )  # its notice started 14 days ago; the county approved it
        county = httpx.post(
            f"{base}/auth/token", data={"username": "liu.yang", "password": "aidflow-demo"}
        ).json()
        at_county = httpx.get(
            f"{base}/tasks", headers={"Authorization": f"Bearer {county['access_token']}"}
        ).json()
        assert [(t["name"], t["application_id"]) for t in at_county["items"]] == [
            ("county_confirm", cases["DEMO-6"]["id"])
        ]
        # The movable clock does not exist outside test and demo mode; the loader left it on today.
        admin = httpx.post(
            f"{base}/auth/token", data={"username": "admin", "password": "aidflow-demo"}
        ).json()
        r = httpx.get(f"{base}/admin/clock", headers={"Authorization": f"Bearer {admin['access_token']}"})
        assert r.status_code == 404
        assert httpx.get(f"http://127.0.0.1:{port}/ui/admin/clock").status_code == 404
    finally:
        server.terminate()
        server.wait(timeout=20)


def test_a_demo_lets_time_pass_from_the_admin_page_and_makes_keys(tmp_path):
    """AIDFLOW_ENV=demo (what `make demo` sets): 管理 → 演示时钟 → 前进七天 ends the notice of DEMO-3,
    which then waits at the county; `aidflow keys create` makes a portal key that works."""
    env = {
        **os.environ,
        "AIDFLOW_DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}",
        "AIDFLOW_LOG_JSON": "false",
        "AIDFLOW_ENV": "demo",
        "AIDFLOW_STORAGE_DIRECTORY": str(tmp_path / "materials"),  # the demo's documents
    }

    def run(*args):
        return subprocess.run(command("aidflow", *args), env=env, capture_output=True, text=True, timeout=120)

    assert run("migrate").returncode == 0
    loaded = run("demo")
    assert loaded.returncode == 0 and "/ui/admin/clock" in loaded.stdout, loaded.stderr
    made = run("keys", "create", "county-portal", "--division", "340621")
    assert made.returncode == 0, made.stderr
    key = made.stdout.split("X-API-Key: ")[1].strip()
    refused = run(
        "keys", "create", "town-portal", "--role", "county_civil_affairs", "--division", "340621100"
    )
    assert refused.returncode == 1 and "role_level_mismatch" in refused.stderr

    port = free_port()
    server = subprocess.Popen(
        command("aidflow", "serve", "--port", str(port)),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        ui = f"http://127.0.0.1:{port}/ui"
        wait_until_up(f"http://127.0.0.1:{port}", server)
        with httpx.Client(base_url=ui, timeout=30) as browser:
            token = browser.get("/login").text.split('name="csrf_token" value="')[1].split('"')[0]
            r = browser.post(
                "/login",
                data={
                    "username": "admin",
                    "password": "aidflow-demo",
                    "csrf_token": token,
                    "next": "/ui/admin/clock",
                },
            )
            assert r.status_code == 303, r.text
            page = browser.get("/admin/clock")
            assert page.status_code == 200 and "演示时钟" in page.text
            token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
            done = browser.post(
                "/admin/clock", data={"days": "7", "csrf_token": token}, follow_redirects=True
            )
            assert "时间已前进七天" in done.text
        cases = {
            c["external_ref"]: c
            for c in httpx.get(
                f"http://127.0.0.1:{port}/api/v1/applications", headers={"X-API-Key": key}
            ).json()["items"]
        }
        detail = httpx.get(
            f"http://127.0.0.1:{port}/api/v1/applications/{cases['DEMO-3']['id']}", headers={"X-API-Key": key}
        ).json()
        assert [t["name"] for t in detail["open_tasks"]] == ["county_confirm"]
    finally:
        server.terminate()
        server.wait(timeout=20)


async def test_in_process_worker_fires_notice_timers(api: Api, running_app):
    case = await api.apply()
    await api.to_notice(case["id"])
    await api.advance(days=8)
    settings = make_settings(api.database_url)
    settings.worker_poll_seconds = 0.05
    from app.main import create_app

    app = create_app(settings, run_worker=True)
    async with app.router.lifespan_context(app):
        for _ in range(200):
            if (await api.application(case["id"]))["open_tasks"]:
                break
            await asyncio.sleep(0.05)
    assert (await api.open_task(case["id"]))["name"] == "county_confirm"


async def test_two_workers_fire_each_timer_once(api: Api):
    cases = [await api.apply() for _ in range(6)]
    for case in cases:
        await api.to_notice(case["id"])
    await api.advance(days=8)
    engines = [create_engine(api.database_url) for _ in range(2)]
    try:
        results = await asyncio.gather(*(run_due_timers(db) for db in engines))
    finally:
        for db in engines:
            await db.dispose()
    assert sum(results) >= 6
    assert await api.count("events", "type = 'timer.fired'") == 6
    assert await api.count("tasks", "name = 'county_confirm' AND state = 'open'") == 6
    assert await api.count("timers", "fired_at IS NULL") == 0


def test_hostile_xml_is_not_expanded():
    secret = PROJECT_ROOT / "pyproject.toml"
    dibao = (PROJECT_ROOT / "processes" / "dibao.bpmn").read_text(encoding="utf-8")
    doctype = (
        f'<!DOCTYPE d [<!ENTITY leak SYSTEM "file://{secret}">'
        '<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]>'
    )
    with_doctype = dibao.replace(
        '<?xml version="1.0" encoding="UTF-8"?>', '<?xml version="1.0" encoding="UTF-8"?>' + doctype
    )
    # An external entity in an attribute is refused outright.
    with pytest.raises(engine.BpmnError):
        engine.parse_bpmn(
            with_doctype.replace('name="最低生活保障" isExecutable', 'name="&leak;" isExecutable').encode()
        )
    # In element content, neither the file nor the entity bomb is expanded.
    for entity in ("&leak;", "&c;"):
        xml = with_doctype.replace(
            '<bpmn:message id="objection" name="objection" />',
            f'<bpmn:message id="objection" name="objection" /><bpmn:documentation>{entity}'
            "</bpmn:documentation>",
        )
        engine.parse_bpmn(xml.encode())  # parses: the entity stays an unexpanded reference
        tree = etree.fromstring(xml.encode(), parser=engine._safe_xml_parser())
        text = "".join(tree.itertext())
        assert "[project]" not in text and "aaaaaaaaaa" not in text


def _serve(tmp_path, name: str, **env_extra) -> tuple[subprocess.Popen, str]:
    env = {
        **os.environ,
        "AIDFLOW_DATABASE_URL": f"sqlite:///{tmp_path / name}",
        "AIDFLOW_LOG_JSON": "false",
        "AIDFLOW_ENV": "test",
        **env_extra,
    }
    assert (
        subprocess.run(command("aidflow", "migrate"), env=env, capture_output=True, timeout=120).returncode
        == 0
    )
    port = free_port()
    server = subprocess.Popen(
        command("aidflow", "serve", "--port", str(port), "--no-worker"),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        return server, wait_until_up(f"http://127.0.0.1:{port}", server)
    except AssertionError:
        server.kill()
        raise


def _objection_answers(base: str) -> list[int]:
    """Three objections to a notice that does not exist, each claiming another client address."""
    return [
        httpx.post(
            f"{base}/api/v1/public/notices/none/objections",
            json={"entry_id": "x", "reason": "理由写满五个字"},
            headers={"X-Forwarded-For": f"203.0.113.{i}"},
        ).status_code
        for i in range(3)
    ]


def test_forwarded_addresses_count_only_from_trusted_proxies(tmp_path):
    # A loopback peer is not a proxy unless AIDFLOW_TRUSTED_PROXIES says so: its forged
    # X-Forwarded-For cannot buy it a fresh objection allowance per request.
    server, base = _serve(tmp_path, "untrusted.db", AIDFLOW_OBJECTION_RATE_LIMIT="2/minute")
    try:
        assert _objection_answers(base) == [404, 404, 429]
    finally:
        server.terminate()
        server.wait(timeout=20)
    server, base = _serve(
        tmp_path,
        "trusted.db",
        AIDFLOW_OBJECTION_RATE_LIMIT="2/minute",
        AIDFLOW_TRUSTED_PROXIES="127.0.0.1/32, ::1",
    )
    try:
        assert _objection_answers(base) == [404, 404, 404]  # three clients behind a proxy we run
    finally:
        server.terminate()
        server.wait(timeout=20)
    bad = subprocess.run(
        command("aidflow", "serve", "--port", str(free_port())),
        capture_output=True,
        text=True,
        env={**os.environ, "AIDFLOW_TRUSTED_PROXIES": "127.0.0.300"},
        timeout=60,
    )
    assert bad.returncode != 0 and "trusted_proxies" in bad.stdout + bad.stderr
