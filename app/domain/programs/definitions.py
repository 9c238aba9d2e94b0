"""Deployed process definitions: one row per (key, version); running cases keep theirs."""

import asyncio
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app import clock, engine
from app.db.models import definition_files as files_table
from app.db.models import process_definitions as defs
from app.domain import audit
from app.domain.audit import Recorder
from app.domain.errors import Invalid, NotFound
from app.domain.programs import bundles
from app.domain.programs import config as bpmn_config

# Checking an upload lives in ``validation``; its names stay reachable here for callers that knew them.
from app.domain.programs.validation import check_model as check_model
from app.domain.programs.validation import find_decisions as find_decisions
from app.domain.programs.validation import load_decisions as load_decisions
from app.domain.programs.validation import validate

OUTCOMES = bpmn_config.OUTCOMES


@dataclass(frozen=True)
class Definition:
    id: int
    key: str
    version: int
    name: str
    forms: dict[str, Any]
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
    def application_form(self) -> dict[str, Any] | None:
        form = self.config.process.application_form
        return self.forms.get(form) if form else None

    def form_for_step(self, step_name: str) -> dict[str, Any] | None:
        form = self.config.steps[step_name].form
        return self.forms.get(form) if form else None


async def deploy(
    conn: AsyncConnection,
    upload: bytes | bundles.Bundle,
    deployed_by: str,
    forms_dir: Path,
    dry_run: bool = False,
    version_tag: str | None = None,
    comment: str | None = None,
) -> tuple[dict[str, Any], bool]:
    """Store a new version unless the newest version of that key has the same content (or on a dry run).
    Forms and decision tables come from the bundle, else from beside ``forms_dir``; they are frozen
    with the version (its ``forms`` and ``decisions``, and each file as it was in ``definition_files``)."""
    # Checking is CPU work (a 2 MB file takes seconds): in a thread, so the service's other requests
    # are answered meanwhile instead of waiting for the event loop.
    checked = await asyncio.to_thread(validate, upload, forms_dir)
    xml, decisions, model, forms = checked.xml, checked.decisions, checked.model, checked.forms
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
    definition_id = (
        await conn.execute(
            sa.insert(defs)
            .values(
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
            .returning(defs.c.id)
        )
    ).scalar_one()
    if checked.files:
        await conn.execute(
            sa.insert(files_table),
            [
                {
                    "definition_id": definition_id,
                    "name": name,
                    "origin": origin,
                    "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
                    "size": len(text.encode("utf-8")),
                    "content": text,
                }
                for name, (text, origin) in checked.files.items()
            ],
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


async def deploy_directory(conn: AsyncConnection, processes_dir: Path) -> list[dict[str, Any]]:
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


async def list_latest(conn: AsyncConnection) -> list[dict[str, Any]]:
    newest = (
        sa.select(defs.c.key, sa.func.max(defs.c.version).label("version")).group_by(defs.c.key).subquery()
    )
    rows = await conn.execute(
        sa.select(*_COLUMNS)
        .join(newest, sa.and_(defs.c.key == newest.c.key, defs.c.version == newest.c.version))
        .order_by(defs.c.key)
    )
    return [dict(r) for r in rows.mappings()]


async def list_versions(conn: AsyncConnection, key: str) -> list[dict[str, Any]]:
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
    lanes, its steps' roles (candidate groups), who may start it and who may send its messages."""
    found: set[str] = set()
    for definition_id in (await conn.execute(sa.select(defs.c.id))).scalars():
        definition = await by_id(conn, definition_id)
        found |= set(definition.model.element_lanes.values()) | set(definition.config.process.starters)
        found |= {step.role for step in definition.model.steps.values() if step.role}
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
    xml: str | None = (
        await conn.execute(sa.select(defs.c.xml).where(defs.c.key == key, defs.c.version == version))
    ).scalar()
    if xml is None:
        raise NotFound("unknown_version", f"{key} has no version {version}")
    return xml


async def bundle_files(conn: AsyncConnection, key: str, version: int) -> list[dict[str, Any]]:
    """The files of a version's bundle beside its BPMN: path, origin (``bundle``: uploaded with it;
    ``default``: the shipped file it took), sha256, size and content. Versions deployed before files
    were kept get theirs from the forms and decision tables frozen with them (origin ``stored``)."""
    row = (
        await conn.execute(
            sa.select(defs.c.id, defs.c.forms, defs.c.decisions).where(
                defs.c.key == key, defs.c.version == version
            )
        )
    ).first()
    if row is None:
        raise NotFound("unknown_version", f"{key} has no version {version}")
    kept = (
        await conn.execute(
            sa.select(
                files_table.c.name,
                files_table.c.origin,
                files_table.c.sha256,
                files_table.c.size,
                files_table.c.content,
            )
            .where(files_table.c.definition_id == row.id)
            .order_by(files_table.c.name)
        )
    ).mappings()
    found = [dict(f) for f in kept]
    if found:
        return found
    model = (await by_id(conn, row.id)).model
    texts = {
        f"forms/{name}": json.dumps(schema, ensure_ascii=False, indent=2) + "\n"
        for name, schema in sorted(row.forms.items())
        if name not in model.inline_forms
    }
    texts |= {f"decisions/{decision_id}.dmn": dmn for decision_id, dmn in sorted(row.decisions.items())}
    return [
        {
            "name": name,
            "origin": "stored",
            "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
            "size": len(text.encode("utf-8")),
            "content": text,
        }
        for name, text in texts.items()
    ]


async def bundle_zip(conn: AsyncConnection, key: str, version: int) -> bytes:
    """A version as a zip bundle, ready to upload again: ``<key>.bpmn``, forms/, decisions/."""
    files = {f"{key}.bpmn": (await xml_of(conn, key, version)).encode("utf-8")}
    files |= {f["name"]: f["content"].encode("utf-8") for f in await bundle_files(conn, key, version)}
    return bundles.to_zip(files)


async def diff(conn: AsyncConnection, key: str, old: int, new: int) -> dict[str, Any]:
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
