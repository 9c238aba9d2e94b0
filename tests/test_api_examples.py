"""docs/api.md's portal examples are true: every `curl` command of "Portal calls by example" runs with the
real curl against a live service (uvicorn, real HTTP), and its answer matches the JSON shown beside it."""

import json
import os
import re
import subprocess
from pathlib import Path

import httpx

from app.config import PROJECT_ROOT
from tests.conftest import ADMIN_PASSWORD
from tests.helpers import Api
from tests.web_support import LiveServer

DOC = PROJECT_ROOT / "docs" / "api.md"
SECTION = "## Portal calls by example"
# What differs from run to run: such values match any value of the same shape.
SHAPES = {
    "id": re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"),
    "time": re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$"),
    "case number": re.compile(r"^[A-Z]+-\d{6}-\d{4}-\d{6}$"),
    "secret": re.compile(r"^whsec_[A-Za-z0-9+/=]+$"),
}
# What the service's other users do between two examples, named by the heading the example is under.
BETWEEN = {"Follow a case": "the township asks for the missing papers, after the case's first look"}


def examples() -> list[dict]:
    """Each ```sh block with curl in the section, its heading, and the answer shown after it."""
    text = DOC.read_text()
    section = text[text.index(SECTION) : text.index("\n## ", text.index(SECTION) + 1)]
    found, heading = [], ""
    pattern = re.compile(
        r"^### ([^\n]+)$|```sh\n(.*?)```\s*\nAnswer `(\d{3})`:\s*\n```json\n(.*?)```", re.S | re.M
    )
    for match in pattern.finditer(section):
        if match[1]:
            heading = match[1].strip()
            continue
        found.append(
            {"heading": heading, "command": match[2], "status": int(match[3]), "answer": json.loads(match[4])}
        )
    return found


def _shape(value: object) -> str | None:
    return next((name for name, p in SHAPES.items() if isinstance(value, str) and p.match(value)), None)


def matches(shown: object, real: object, where: str = "") -> list[str]:
    """Where the answer shown differs from the real one (keys left out of a shortened answer are fine)."""
    if isinstance(shown, dict):
        if not isinstance(real, dict):
            return [f"{where}: {real!r} is not an object"]
        missing = [f"{where}.{k}: not in the answer" for k in shown if k not in real]
        return missing + [m for k in shown if k in real for m in matches(shown[k], real[k], f"{where}.{k}")]
    if isinstance(shown, list):
        if not isinstance(real, list) or len(real) != len(shown):
            return [f"{where}: {len(shown)} items shown, the answer is {real!r}"]
        return [
            m
            for i, (a, b) in enumerate(zip(shown, real, strict=True))
            for m in matches(a, b, f"{where}[{i}]")
        ]
    if shown == real or (_shape(shown) is not None and _shape(shown) == _shape(real)):
        return []
    return [f"{where}: shown {shown!r}, answered {real!r}"]


def test_the_comparison_can_fail():
    assert matches({"a": 1, "t": "2026-11-29T06:05:17Z"}, {"a": 1, "t": "2030-01-01T00:00:00Z", "b": 2}) == []
    assert matches({"a": 1}, {"a": 2}) and matches({"a": 1}, {}) and matches([1], [1, 2])
    assert matches({"id": "7c0965c6-0651-45fd-9ae7-fe39b1fef03b"}, {"id": "DB-340621-2026-000001"})


def _run(command: str, env: dict[str, str]) -> tuple[int, object]:
    # curl as the reader types it; -w adds the status on a line of its own after the body.
    script = "curl() { command curl -sS -w '\\n%{http_code}' \"$@\"; }\n" + command
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    body, _, status = done.stdout.rpartition("\n")
    return int(status), json.loads(body) if body.strip() else None


async def test_every_portal_example_in_the_api_doc_runs_as_shown(database_url, tmp_path):
    found = examples()
    headings = {e["heading"] for e in found}
    assert (
        len(found) >= 7 and {"Create an application", "Send a message", "Subscribe to webhooks"} <= headings
    )
    assert any("/divisions" in e["command"] for e in found) and any("/events" in e["command"] for e in found)
    async with LiveServer(database_url) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            api = Api(client, database_url)
            await api.setup_places_and_people(ADMIN_PASSWORD)
            env = {
                "PATH": os.environ["PATH"],
                "AIDFLOW": server.url,
                "KEY": api.headers["portal"]["X-API-Key"],
                "CASE": "",
            }
            done_between: set[str] = set()
            for example in found:
                # The township's step comes after the case's first look, as the doc tells.
                if example["heading"] in BETWEEN and "/record" in example["command"]:
                    done_between.add(example["heading"])
                    await api.step(
                        "town_a",
                        env["CASE"],
                        "accept_application",
                        {"decision": "incomplete", "missing_materials": ["户口簿复印件", "家庭收入证明"]},
                    )
                status, answer = _run(example["command"], env)
                assert status == example["status"], (example["command"], answer)
                assert matches(example["answer"], answer) == [], (example["heading"], example["command"])
                if example["heading"] == "Create an application":
                    env["CASE"] = answer["id"]
            assert done_between == set(BETWEEN)
    assert Path(DOC).read_text().count("```sh\ncurl") == len(found)  # no curl example escaped the test
