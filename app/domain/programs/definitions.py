"""Deployed process definitions: one row per (key, version); running cases keep theirs."""

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app import clock, engine, sandbox
from app.db.models import process_definitions as defs
from app.domain import audit
from app.domain.audit import Recorder
from app.domain.cases import effects as case_effects
from app.domain.errors import DomainError, Invalid, NotFound
from app.domain.notices.publication import check_declaration as notices_check
from app.domain.people.divisions import LEVELS, check_role, role_level
from app.domain.programs import config as bpmn_config
from app.domain.programs import eligibility
from app.domain.programs.settings import declaration_problems as settings_check
from app.domain.tasks import signers

OUTCOMES = bpmn_config.OUTCOMES


@dataclass(frozen=True)
class Definition:
    id: int
    key: str
    version: int
    name: str
    forms: dict
    model: engine.ProcessModel
    # The process's properties, parsed and checked once (``app.domain.programs.config``).
    config: bpmn_config.DefinitionConfig

    @property
    def starters(self) -> set[str]:
        return set(self.config.process.starters)

    @property
    def division_levels(self) -> set[str] | None:
        return set(self.config.process.division_levels) or None

    @property
    def application_form(self) -> dict | None:
        form = self.config.process.application_form
        return self.forms.get(form) if form else None

    def form_for_step(self, step_name: str) -> dict | None:
        form = self.config.steps[step_name].form
        return self.forms.get(form) if form else None


def _problem(
    code: str, message: str, element_id: str | None = None, model: engine.ProcessModel | None = None
) -> dict:
    line = model.element_lines.get(element_id) if model is not None and element_id else None
    return {"line": line, "element_id": element_id, "code": code, "message": message}


def check_model(model: engine.ProcessModel, forms_dir: Path) -> dict:
    """The checks the service itself relies on; returns the referenced forms. Every property is
    parsed first (``config.read``: unknown names and malformed values), then what they mean."""
    forms = {}
    config, errors = bpmn_config.read(model)
    refused = {(e["element_id"], e["property"]) for e in errors}
    process = config.process
    if not process.starters and (model.key, "starters") not in refused:
        errors.append(_problem("no_starters", "the process must declare a 'starters' property", model.key))
    for role in process.starters:
        try:
            check_role(role)
        except DomainError as exc:
            errors.append(_problem("invalid_role", exc.detail, model.key, model))
    # Who may send each message (POST /messages): role keys or ``portal``.
    for name, message in config.messages.items():
        for role in message.senders:
            try:
                check_role(role)
            except DomainError as exc:
                errors.append(
                    _problem("invalid_role", f"senders of message {name!r}: {exc.detail}", model.key)
                )
    references = [(step_id, step.form) for step_id, step in config.steps.items()]
    # The application's own data (POST /applications "data") may have a form too.
    references += [(model.key, process.application_form)]
    references += [(name, form) for name, form in model.message_forms.items()]
    for step in model.steps.values():
        if not step.role:
            errors.append(_problem("no_role", f"user task {step.id!r} is in no lane", step.id, model))
            continue
        if role_level(step.role) is None:
            errors.append(
                _problem(
                    "invalid_role",
                    f"lane {step.role!r} of {step.id!r} is not a role key "
                    f"<level>_<department> with level one of {LEVELS}",
                    step.id,
                    model,
                )
            )
    for element_id, what, source in model.expressions:
        try:
            if what == "script":
                sandbox.compile_script(source)
            elif what == "dmn_match":
                _compile_match(source)
            else:
                sandbox.compile_expression(source)
        except sandbox.ExpressionError as exc:
            errors.append(
                _problem("invalid_expression", f"{what} {source.strip()[:80]!r}: {exc}", element_id, model)
            )
            continue
        if what == "timer" and (problem := engine.timer_literal_problem(source)):
            errors.append(_problem("invalid_timer", problem, element_id, model))
    for problem in notices_check(process):
        errors.append(_problem("invalid_notice_fields", problem, model.key, model))
    for problem in settings_check(process):
        errors.append(_problem("invalid_setting", problem, model.key, model))
    for step_id, step in config.steps.items():
        for problem in signers.declaration_problems(step_id, step):
            errors.append(_problem("invalid_approval_mode", problem, step_id, model))
    for problem in eligibility.declaration_problems(process):
        errors.append(_problem("invalid_expression", problem, model.key, model))
    for element_id, problem in case_effects.declaration_problems(config):
        errors.append(_problem("invalid_benefit", problem, element_id, model))
    for element_id, end in config.end_events.items():
        if end.outcome is None and (element_id, "outcome") not in refused:
            errors.append(
                _problem(
                    "invalid_outcome",
                    f"end event {element_id!r} must declare an outcome, one of {OUTCOMES}",
                    element_id,
                    model,
                )
            )
    for element_id, form in references:
        if not form:
            continue
        if form in model.inline_forms:
            forms[form] = model.inline_forms[form]
            continue
        path = forms_dir / form
        if Path(form).name != form or not path.is_file():
            errors.append(
                _problem("unknown_form", f"form {form!r} not found under processes/forms/", element_id, model)
            )
            continue
        try:
            forms[form] = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            errors.append(_problem("invalid_form", f"form {form!r} is not JSON: {exc}", element_id, model))
    if errors:
        raise engine.BpmnError(errors)
    return forms


def _compile_match(source: str) -> None:
    # A DMN input entry is either a value compared with == ("C34") or a test on the input ("< 5000").
    try:
        sandbox.compile_expression(source)
    except sandbox.ExpressionError:
        sandbox.compile_expression(f"dmninputexpr {source}")


def load_decisions(xml: bytes, decisions_dir: Path) -> dict[str, bytes]:
    """The DMN tables (``processes/decisions/<decision id>.dmn``) the file's business rule tasks call."""
    found, errors = {}, []
    for task_id, decision_id in engine.decision_refs(xml).items():
        path = decisions_dir / f"{decision_id}.dmn"
        if not decision_id or Path(decision_id).name != decision_id or not path.is_file():
            errors.append(
                {
                    "line": None,
                    "element_id": task_id,
                    "code": "unknown_decision",
                    "message": f"business rule task {task_id!r} calls decision {decision_id!r}, "
                    "not found under processes/decisions/",
                }
            )
            continue
        found[decision_id] = path.read_bytes()
        try:
            found[decision_id].decode("utf-8")
        except UnicodeDecodeError:
            errors.append(
                {
                    "line": None,
                    "element_id": task_id,
                    "code": "invalid_dmn",
                    "message": f"decision file {decision_id!r} is not UTF-8",
                }
            )
    if errors:
        raise engine.BpmnError(errors)
    return found


async def deploy(
    conn: AsyncConnection,
    xml: bytes,
    deployed_by: str,
    forms_dir: Path,
    dry_run: bool = False,
    version_tag: str | None = None,
    comment: str | None = None,
) -> tuple[dict, bool]:
    """Store a new version unless the newest version of that key has the same content (or on a dry run).
    Forms and decision tables are read from beside ``forms_dir`` and frozen with the version."""
    try:
        decisions = load_decisions(xml, forms_dir.parent / "decisions")
        model = engine.parse_bpmn(xml, decisions)
        forms = check_model(model, forms_dir)
    except engine.BpmnError as exc:
        raise Invalid("invalid_bpmn", "the BPMN file is not a deployable process", errors=exc.errors) from exc
    decision_texts = {name: dmn.decode("utf-8") for name, dmn in decisions.items()}
    digest = hashlib.sha256(xml + json.dumps([forms, decision_texts], sort_keys=True).encode()).hexdigest()
    if not decisions:  # digests of versions without decision tables stay as they were
        digest = hashlib.sha256(xml + json.dumps(forms, sort_keys=True).encode()).hexdigest()
    latest = (
        await conn.execute(
            sa.select(defs.c.version, defs.c.sha256)
            .where(defs.c.key == model.key)
            .order_by(defs.c.version.desc())
            .limit(1)
        )
    ).first()
    if latest and latest.sha256 == digest:
        return {"key": model.key, "version": latest.version, "name": model.name}, False
    version = latest.version + 1 if latest else 1
    if dry_run:
        return {"key": model.key, "version": version, "name": model.name, "dry_run": True}, False
    await conn.execute(
        sa.insert(defs).values(
            key=model.key,
            version=version,
            name=model.name,
            xml=xml.decode("utf-8"),
            sha256=digest,
            forms=forms,
            deployed_at=clock.now(),
            deployed_by=deployed_by,
            version_tag=version_tag,
            comment=comment,
            decisions=decision_texts,
        )
    )
    # A new version changes what new cases do (and who may set which setting): in the authority trail.
    await audit.record_change(
        conn,
        deployed_by,
        "definition.deployed",
        f"definition:{model.key}",
        {"version": latest.version, "sha256": latest.sha256} if latest else None,
        {
            "version": version,
            "name": model.name,
            "sha256": digest,
            "version_tag": version_tag,
            "comment": comment,
        },
    )
    rec = Recorder(deployed_by)
    # Outbox only: the definition row itself records who deployed it and when.
    rec.publish(
        "definition.deployed", None, {"key": model.key, "version": version, "name": model.name}, None, None
    )
    await rec.flush(conn)
    return {"key": model.key, "version": version, "name": model.name}, True


async def deploy_directory(conn: AsyncConnection, processes_dir: Path) -> list[dict]:
    deployed = []
    for path in sorted(processes_dir.glob("*.bpmn")):  # noqa: ASYNC240 (start-up, a few small files)
        result, created = await deploy(conn, path.read_bytes(), "system", processes_dir / "forms")
        if created:
            deployed.append(result)
    return deployed


_COLUMNS = (
    defs.c.key,
    defs.c.version,
    defs.c.name,
    defs.c.sha256,
    defs.c.deployed_at,
    defs.c.deployed_by,
    defs.c.version_tag,
    defs.c.comment,
)


async def list_latest(conn: AsyncConnection) -> list[dict]:
    newest = (
        sa.select(defs.c.key, sa.func.max(defs.c.version).label("version")).group_by(defs.c.key).subquery()
    )
    rows = await conn.execute(
        sa.select(*_COLUMNS)
        .join(newest, sa.and_(defs.c.key == newest.c.key, defs.c.version == newest.c.version))
        .order_by(defs.c.key)
    )
    return [dict(r) for r in rows.mappings()]


async def list_versions(conn: AsyncConnection, key: str) -> list[dict]:
    rows = [
        dict(r)
        for r in (
            await conn.execute(sa.select(*_COLUMNS).where(defs.c.key == key).order_by(defs.c.version.desc()))
        ).mappings()
    ]
    if not rows:
        raise NotFound("unknown_process", f"no process definition with key {key!r}")
    return rows


_by_id: dict[tuple[str, int], Definition] = {}


async def by_id(conn: AsyncConnection, definition_id: int) -> Definition:
    """Definitions never change once deployed, so they are cached per process by (database, id)."""
    cache_key = (str(conn.engine.url), definition_id)
    found = _by_id.get(cache_key)
    if found is None:
        row = (await conn.execute(sa.select(defs).where(defs.c.id == definition_id))).mappings().one()
        model = engine.model_for(row["id"], row["xml"], tuple(sorted(row["decisions"].items())))
        found = Definition(
            row["id"],
            row["key"],
            row["version"],
            row["name"],
            row["forms"],
            model,
            bpmn_config.parse(model, stored=True),
        )
        _by_id[cache_key] = found
    return found


async def role_keys(conn: AsyncConnection) -> set[str]:
    """Every role some deployed version (old ones too: their cases still run) gives work to: its
    lanes, who may start it and who may send its messages."""
    found: set[str] = set()
    for definition_id in (await conn.execute(sa.select(defs.c.id))).scalars():
        definition = await by_id(conn, definition_id)
        found |= set(definition.model.element_lanes.values()) | set(definition.config.process.starters)
        for message in definition.config.messages.values():
            found |= set(message.senders)
    return found


async def version_of(conn: AsyncConnection, key: str, version: int) -> Definition:
    definition_id = (
        await conn.execute(sa.select(defs.c.id).where(defs.c.key == key, defs.c.version == version))
    ).scalar()
    if definition_id is None:
        raise NotFound("unknown_version", f"{key} has no version {version}")
    return await by_id(conn, definition_id)


async def xml_of(conn: AsyncConnection, key: str, version: int) -> str:
    xml = (
        await conn.execute(sa.select(defs.c.xml).where(defs.c.key == key, defs.c.version == version))
    ).scalar()
    if xml is None:
        raise NotFound("unknown_version", f"{key} has no version {version}")
    return xml


async def diff(conn: AsyncConnection, key: str, old: int, new: int) -> dict:
    """Which steps a revision added, removed or changed (title, role or properties)."""
    before, after = (
        (await version_of(conn, key, old)).model.steps,
        (await version_of(conn, key, new)).model.steps,
    )
    return {
        "key": key,
        "from": old,
        "to": new,
        "added_steps": sorted(set(after) - set(before)),
        "removed_steps": sorted(set(before) - set(after)),
        "changed_steps": sorted(s for s in set(before) & set(after) if before[s] != after[s]),
    }


async def latest(conn: AsyncConnection, key: str) -> Definition:
    definition_id = (
        await conn.execute(
            sa.select(defs.c.id).where(defs.c.key == key).order_by(defs.c.version.desc()).limit(1)
        )
    ).scalar()
    if definition_id is None:
        raise Invalid("unknown_program", f"no program {key!r} is deployed", program=key)
    return await by_id(conn, definition_id)
