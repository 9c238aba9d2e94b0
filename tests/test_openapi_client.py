"""The OpenAPI document is a contract a portal can build on: a client generated from the live
``/openapi.json`` by a maintained generator (openapi-python-client) drives a whole 低保 path against a
real server, and every response it gets parses into the documented models and back without a
field lost or changed. Every operation documents its success body and its problem responses."""

import importlib
import json
import os
import shutil
import subprocess
import sys
import tomllib
import uuid
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from app.config import PROJECT_ROOT
from tests.conftest import ADMIN_PASSWORD
from tests.helpers import PASSWORD, PEOPLE, PLACES, VILLAGE_A, Api, id_number
from tests.live import free_port, wait_until_up
from tests.time_travel import command

GENERATOR = "openapi-python-client"
GENERATOR_VERSION = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["tool"]["aidflow"][
    "test-tools"
][GENERATOR]
GENERATOR_HOME = PROJECT_ROOT / ".venv" / "tools" / f"{GENERATOR}-{GENERATOR_VERSION}"
PUBLIC_OPERATIONS = {
    ("post", "/api/v1/auth/token"),
    ("get", "/api/v1/public/notices"),
    ("get", "/api/v1/public/notices/{notice_id}"),
    ("post", "/api/v1/public/notices/{notice_id}/objections"),
    ("get", "/api/v1/public/objections/{number}"),
    ("get", "/healthz"),
    ("get", "/readyz"),
}
AUTHENTICATED = [{"OAuth2PasswordBearer": []}, {"APIKeyHeader": []}]


def generator_python() -> Path:
    """The generator's own interpreter, installed on first use (see pyproject's [tool.aidflow.test-tools])."""
    python = GENERATOR_HOME / "bin" / "python"
    if python.exists():
        return python
    building = GENERATOR_HOME.with_name(f"{GENERATOR_HOME.name}.{os.getpid()}.partial")
    shutil.rmtree(building, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(building)], check=True, timeout=120)
    installed = subprocess.run(
        [str(building / "bin" / "python"), "-m", "pip", "install", "-q", f"{GENERATOR}=={GENERATOR_VERSION}"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    try:
        building.rename(GENERATOR_HOME)  # a venv runs from where it is moved when started as bin/python -m
    except OSError:  # another run installed it meanwhile
        shutil.rmtree(building, ignore_errors=True)
    return python


def generate_client(document: dict, where: Path):
    """Generate a client package from ``document`` and import it (a fresh name per test)."""
    name = f"aidflow_client_{uuid.uuid4().hex[:8]}"
    spec = where / "openapi.json"
    spec.write_text(json.dumps(document, ensure_ascii=False))
    config = where / "generator.json"
    config.write_text(
        json.dumps(
            {
                "package_name_override": name,
                "project_name_override": name,
                "post_hooks": [],
                # bodies that are not JSON: BPMN, SVG and CSV come back as text, spreadsheets and documents as bytes
                "content_type_overrides": {
                    "application/xml": "text/plain",
                    "image/svg+xml": "text/plain",
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "application/octet-stream",
                    # a document's bytes (materials) and a report as CSV
                    "application/pdf": "application/octet-stream",
                    "image/jpeg": "application/octet-stream",
                    "image/png": "application/octet-stream",
                    "image/webp": "application/octet-stream",
                    "text/csv": "text/plain",
                    # a process's bundle
                    "application/zip": "application/octet-stream",
                },
            }
        )
    )
    run = subprocess.run(
        [
            str(generator_python()),
            "-m",
            "openapi_python_client",
            "generate",
            "--path",
            str(spec),
            "--output-path",
            str(where / name),
            "--meta",
            "none",
            "--config",
            str(config),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=where,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    # Nothing of the document may be skipped: "Unable to parse/process schema" means a model was dropped.
    assert "Unable to" not in run.stdout + run.stderr, run.stdout + run.stderr
    sys.path.insert(0, str(where))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(where))


def same(raw, parsed, at: str = "") -> list[str]:
    """Differences between a response's JSON and its parsed model written back (instants compared as
    instants: the model writes +00:00 where the service writes Z)."""
    if isinstance(raw, dict) and isinstance(parsed, dict):
        faults = [f"{at}/{k}: not in the model" for k in raw.keys() - parsed.keys()]
        faults += [f"{at}/{k}: added by the model" for k in parsed.keys() - raw.keys()]
        for k in raw.keys() & parsed.keys():
            faults += same(raw[k], parsed[k], f"{at}/{k}")
        return faults
    if isinstance(raw, list) and isinstance(parsed, list):
        if len(raw) != len(parsed):
            return [f"{at}: {len(raw)} items became {len(parsed)}"]
        return [f for i, (a, b) in enumerate(zip(raw, parsed, strict=True)) for f in same(a, b, f"{at}[{i}]")]
    if isinstance(raw, str) and isinstance(parsed, str) and raw != parsed and "T" in raw:
        try:
            if datetime.fromisoformat(raw) == datetime.fromisoformat(parsed):
                return []
        except ValueError:
            pass
    if raw != parsed or type(raw) is not type(parsed):
        return [f"{at}: {raw!r} became {parsed!r}"]
    return []


class Driver:
    """Calls generated operations and checks each answer against its documented model."""

    def __init__(self, client_package, base: str):
        self.pkg = client_package
        self.base = base
        self.anonymous = client_package.Client(base_url=base, raise_on_unexpected_status=True)
        self.clients = {}
        self.models = importlib.import_module(f"{client_package.__name__}.models")

    def api(self, tag: str, operation: str):
        return importlib.import_module(f"{self.pkg.__name__}.api.{tag}.{operation}")

    def as_user(self, username: str, token: str) -> None:
        self.clients[username] = self.pkg.AuthenticatedClient(
            base_url=self.base, token=token, raise_on_unexpected_status=True
        )

    def as_api_key(self, name: str, key: str) -> None:
        self.clients[name] = self.pkg.AuthenticatedClient(
            base_url=self.base,
            token=key,
            prefix="",
            auth_header_name="X-API-Key",
            raise_on_unexpected_status=True,
        )

    async def call(self, who: str | None, tag: str, operation: str, expect: int = 200, **kw):
        client = self.anonymous if who is None else self.clients[who]
        response = await self.api(tag, operation).asyncio_detailed(client=client, **kw)
        assert response.status_code == expect, response.content.decode()
        parsed = response.parsed
        assert parsed is not None, f"{operation}: nothing parsed from {response.content[:300]!r}"
        if expect < 400:
            assert not isinstance(parsed, self.models.Problem), response.content.decode()
        raw = json.loads(response.content)
        written = [p.to_dict() for p in parsed] if isinstance(parsed, list) else parsed.to_dict()
        assert same(raw, written) == [], (operation, same(raw, written))
        return parsed


@pytest.fixture
def live_server(database_url, tmp_path):
    """``aidflow serve`` as deployed (test mode, so the clock can be moved), on this test's database."""
    env = {
        **os.environ,
        "AIDFLOW_DATABASE_URL": database_url,
        "AIDFLOW_ENV": "test",
        "AIDFLOW_SECRET_KEY": "openapi-client-test-" + "x" * 32,
        "AIDFLOW_BOOTSTRAP_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "AIDFLOW_LOG_JSON": "false",
    }
    port = free_port()
    log = tmp_path / "server.log"
    with open(log, "w") as out:
        server = subprocess.Popen(
            command("aidflow", "serve", "--port", str(port), "--no-worker"),
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield wait_until_up(f"http://127.0.0.1:{port}", server, log)
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


async def test_a_generated_client_drives_a_dibao_case_to_approval(live_server, tmp_path):
    document = httpx.get(f"{live_server}/openapi.json", timeout=30).json()
    client = generate_client(document, tmp_path)
    m = importlib.import_module(f"{client.__name__}.models")
    d = Driver(client, live_server)

    # Logging in: the token endpoint is public.
    token = await d.call(
        None,
        "auth",
        "token_api_v1_auth_token_post",
        body=m.BodyTokenApiV1AuthTokenPost(username="admin", password=ADMIN_PASSWORD),
    )
    assert token.token_type == "bearer"
    d.as_user("admin", token.access_token)

    # Places, reviewers and the portal's key, as an administrator sets them up.
    upserted = await d.call(
        "admin",
        "admin",
        "upsert_divisions_api_v1_admin_divisions_put",
        body=[m.DivisionIn.from_dict(place) for place in PLACES],
    )
    assert upserted.upserted == len(PLACES)
    for username in ("town_a", "county"):
        role, code = PEOPLE[username]
        user = await d.call(
            "admin",
            "admin",
            "create_user_api_v1_admin_users_post",
            201,
            body=m.UserIn(
                username=username,
                password=PASSWORD,
                display_name=username,
                grants=[m.GrantIn(role=role, division_code=code)],
            ),
        )
        assert user.username == username and user.grants[0].role == role
        token = await d.call(
            None,
            "auth",
            "token_api_v1_auth_token_post",
            body=m.BodyTokenApiV1AuthTokenPost(username=username, password=PASSWORD),
        )
        d.as_user(username, token.access_token)
    key = await d.call(
        "admin",
        "admin",
        "create_api_key_api_v1_admin_api_keys_post",
        201,
        body=m.ApiKeyIn(name="portal", grants=[m.GrantIn(role="portal", division_code="340621")]),
    )
    d.as_api_key("portal", key.key)
    me = await d.call("portal", "auth", "me_api_v1_auth_me_get")
    assert me.kind == m.MeKind.API_KEY

    # The portal submits an application.
    case = await d.call(
        "portal",
        "applications",
        "create_api_v1_applications_post",
        201,
        body=m.ApplicationIn(
            program="dibao",
            division_code=VILLAGE_A,
            applicant=m.Applicant(name="张三", id_number=id_number(), phone="13900000000"),
            data=m.ApplicationInData.from_dict({"household_size": 3}),
        ),
    )
    assert case.status == m.ApplicationStatus.IN_PROGRESS
    assert isinstance(case.created_at, datetime) and case.created_at.tzinfo is not None
    (accept,) = case.open_tasks
    assert accept.name == "accept_application" and accept.state == m.TaskState.OPEN

    # The township accepts it and reviews it, from its inbox.
    inbox = await d.call("town_a", "tasks", "inbox_api_v1_tasks_get")
    assert [t.id for t in inbox.items] == [accept.id] and inbox.has_more is False
    task = await d.call("town_a", "tasks", "get_api_v1_tasks_task_id_get", task_id=accept.id)
    assert task.application.id == case.id and task.form_schema is not None
    claimed = await d.call("town_a", "tasks", "claim_api_v1_tasks_task_id_claim_post", task_id=accept.id)
    assert claimed.assignee == "town_a"
    done = await d.call(
        "town_a",
        "tasks",
        "complete_api_v1_tasks_task_id_complete_post",
        task_id=accept.id,
        body=m.CompleteIn(data=m.CompleteInData.from_dict({"decision": "accept"})),
    )
    (review,) = done.next_tasks
    assert review.name == "initial_review" and isinstance(review.due_at, datetime)
    done = await d.call(
        "town_a",
        "tasks",
        "complete_api_v1_tasks_task_id_complete_post",
        task_id=review.id,
        body=m.CompleteIn(
            data=m.CompleteInData.from_dict(
                {"decision": "approve", "opinion": "经入户调查、信息核对，符合条件"}
            )
        ),
    )
    assert done.next_tasks == []  # the public notice runs on a timer
    # A step done twice: a documented problem, parsed as one.
    again = await d.call(
        "town_a",
        "tasks",
        "complete_api_v1_tasks_task_id_complete_post",
        409,
        task_id=review.id,
        body=m.CompleteIn(data=m.CompleteInData.from_dict({"decision": "approve"})),
    )
    assert isinstance(again, m.Problem) and again.code == "task_not_open" and again.status == 409

    # Anyone reads the notice without logging in.
    notices = await d.call(None, "public", "list_notices_api_v1_public_notices_get", division_code=VILLAGE_A)
    (notice,) = notices
    assert notice.state == m.NoticeState.OPEN
    shown = await d.call(
        None, "public", "get_notice_api_v1_public_notices_notice_id_get", notice_id=notice.id
    )
    (entry,) = shown.entries
    assert entry.name == "张*" and entry.household_size == 3 and shown.how_to_object

    # The notice period passes (service clock) and the county confirms.
    await d.call(
        "admin",
        "admin",
        "move_clock_api_v1_admin_clock_post",
        body=m.ClockMove(advance_seconds=7 * 86400),
    )
    fired = await d.call("admin", "admin", "run_timers_api_v1_admin_timers_run_post")
    assert fired.fired == 1
    inbox = await d.call("county", "tasks", "inbox_api_v1_tasks_get")
    (confirm,) = inbox.items
    assert confirm.name == "county_confirm" and confirm.role == "county_civil_affairs"
    done = await d.call(
        "county",
        "tasks",
        "complete_api_v1_tasks_task_id_complete_post",
        task_id=confirm.id,
        body=m.CompleteIn(
            data=m.CompleteInData.from_dict(
                {"decision": "approve", "opinion": "同意纳入", "monthly_amount": 580, "dibao_class": "B"}
            )
        ),
    )
    assert done.application.status == m.ApplicationStatus.APPROVED and done.application.open_tasks == []
    assert isinstance(done.application.ended_at, datetime)

    # What the case left: its record, its ledger entry, its timeline.
    record = await d.call(
        "admin",
        "applications",
        "record_api_v1_applications_application_id_record_get",
        application_id=case.id,
    )
    assert [s.step for s in record] == ["accept_application", "initial_review", "county_confirm"]
    benefits = await d.call(
        "portal",
        "applications",
        "benefits_api_v1_applications_application_id_benefits_get",
        application_id=case.number,
    )
    (benefit,) = benefits
    assert benefit.amount == 580 and benefit.kind == m.BenefitKind.MONTHLY
    events = await d.call(
        "admin",
        "applications",
        "events_api_v1_applications_application_id_events_get",
        application_id=case.id,
    )
    assert {"application.submitted", "notice.opened", "notice.closed", "benefit.recorded"} <= {
        e.type_ for e in events
    }
    found = await d.call("admin", "applications", "list_api_v1_applications_get", status="approved")
    assert [c.id for c in found.items] == [case.id]


def _bare(schema: dict) -> bool:
    """An object without declared properties (what a route returning a bare dict documents), or a list of them."""
    if schema.get("type") == "array":
        return _bare(schema.get("items", {}))
    return schema.get("type") == "object" and not schema.get("properties")


def _operations(document: dict):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield method, path, operation


async def test_every_operation_documents_its_answer_its_problems_and_who_may_call(api: Api):
    document = (await api.client.get("/openapi.json")).json()
    operations = list(_operations(document))
    assert len(operations) > 80
    problem = document["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "code", "detail"}
    faults = []
    for method, path, operation in operations:
        where = f"{method.upper()} {path}"
        answers = {code: r for code, r in operation["responses"].items() if code.startswith("2")}
        if not answers:
            faults.append(f"{where}: no success response")
        for code, answer in answers.items():
            if code == "204":
                continue
            bodies = answer.get("content", {})
            if not bodies or any(body.get("schema") in (None, {}) for body in bodies.values()):
                faults.append(f"{where}: {code} without a schema (a bare dict?)")
            if _bare(bodies.get("application/json", {}).get("schema", {})):
                faults.append(f"{where}: {code} is an object without a model")
        problems = {
            code
            for code, r in operation["responses"].items()
            if code.startswith(("4", "5"))
            and r.get("content", {}).get("application/problem+json", {}).get("schema")
            == {"$ref": "#/components/schemas/Problem"}
        }
        if not problems:
            faults.append(f"{where}: no problem response documented")
        if (operation.get("parameters") or operation.get("requestBody")) and "422" not in problems:
            faults.append(f"{where}: takes input but documents no 422 problem")
        if any(
            "application/json" in r.get("content", {})
            for c, r in operation["responses"].items()
            if c[0] in "45"
        ):
            faults.append(f"{where}: an error documented as application/json")
        public = (method, path) in PUBLIC_OPERATIONS
        if public and operation.get("security"):
            faults.append(f"{where}: a public route with a security requirement")
        if not public and operation.get("security") != AUTHENTICATED:
            faults.append(f"{where}: {operation.get('security')} instead of a bearer token or an API key")
        if not public and not {"401", "403"} <= problems:
            faults.append(f"{where}: 401 and 403 not documented")
    assert faults == []


async def test_the_documented_problem_is_what_errors_answer(api: Api):
    answer = await api.get("town_a", "/tasks/no-such-task")
    assert answer.status_code == 404 and answer.headers["content-type"] == "application/problem+json"
    document = (await api.client.get("/openapi.json")).json()
    declared = document["components"]["schemas"]["Problem"]["properties"]
    assert set(declared) >= set(answer.json())
    unauthenticated = await api.client.get("/api/v1/tasks")
    assert unauthenticated.status_code == 401 and set(declared) >= set(unauthenticated.json())
