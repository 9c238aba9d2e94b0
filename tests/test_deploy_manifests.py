"""deploy/ checked as far as this machine can: the Dockerfile linted (hadolint), every YAML file
linted (yamllint), every manifest of a built-in kind rendered by `kubectl kustomize` validated
against the Kubernetes schema, and every `aidflow` command the image, compose and Kubernetes run
is one the CLI accepts and the one the replica test (tests/test_replicas.py) runs."""

import ast
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
BIN = Path(sys.executable).parent
KUBERNETES_VERSION = "1.32.0"
OVERLAYS = [DEPLOY / "k8s" / "base", DEPLOY / "k8s" / "overlays" / "production"]


def _tool(name: str) -> str:
    path = BIN / name if (BIN / name).exists() else shutil.which(name)
    assert path, (
        f"{name} is missing: `make install` (pinned in pyproject.toml) or scripts/test.sh installs it"
    )
    return str(path)


def _render(directory: Path) -> list[dict]:
    out = subprocess.run(
        [_tool("kubectl"), "kustomize", str(directory)], capture_output=True, text=True, check=True
    )
    return [doc for doc in yaml.safe_load_all(out.stdout) if doc]


def _built_in(doc: dict) -> bool:
    group = doc["apiVersion"].rpartition("/")[0]
    return "." not in group or group.endswith(".k8s.io")


def _dockerfile_stages() -> list[list[str]]:
    stages: list[list[str]] = []
    text = (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ")
    for raw in text.splitlines():
        line = raw.strip()
        if line.upper().startswith("FROM "):
            stages.append([])
        if line and not line.startswith("#") and stages:
            stages[-1].append(line)
    return stages


def test_hadolint_passes():
    result = subprocess.run([_tool("hadolint"), str(DEPLOY / "Dockerfile")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_image_is_slim_non_root_without_compilers_and_checks_health():
    stages = _dockerfile_stages()
    assert len(stages) >= 2, "multi-stage"
    final = stages[-1]
    assert re.match(r"FROM python:3\.11-slim-\w+", final[0])
    users = [line.split()[1] for line in final if line.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("0", "root")
    assert not any(
        re.search(r"\b(gcc|g\+\+|build-essential|clang|make)\b", line)
        for line in final
        if line.startswith("RUN")
    )
    assert 'ENTRYPOINT ["aidflow"]' in final
    assert any(line.startswith("HEALTHCHECK") and "/healthz" in line for line in final)


def test_yamllint_passes():
    files = sorted(str(p) for p in DEPLOY.rglob("*.yaml"))
    assert len(files) > 10
    result = subprocess.run(
        [_tool("yamllint"), "--strict", "-c", str(DEPLOY / ".yamllint"), *files],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("directory", OVERLAYS, ids=lambda p: p.name)
def test_every_built_in_manifest_is_valid(directory):
    docs = _render(directory)
    built_in = [doc for doc in docs if _built_in(doc)]
    assert len(built_in) >= 8
    for doc in built_in:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_the_validator_rejects_a_broken_manifest():
    """The schema check above can fail: a misspelt field of a Deployment is refused."""
    deployment = next(
        d
        for d in _render(OVERLAYS[0])
        if d["kind"] == "Deployment" and d["metadata"]["name"] == "aidflow-api"
    )
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGett"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_production_has_what_an_operations_team_expects():
    docs = _render(OVERLAYS[1])
    kinds = {doc["kind"] for doc in docs}
    assert {
        "Deployment",
        "Job",
        "CronJob",
        "Service",
        "Ingress",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "NetworkPolicy",
        "ConfigMap",
        "Cluster",
        "ScheduledBackup",
        "ObjectStore",
        "ServiceMonitor",
    } <= kinds
    assert "Secret" not in kinds, "secrets are referenced, never committed"
    api = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "aidflow-api")
    pod = api["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert "startupProbe" in container and container["resources"]["requests"]
    assert pod["securityContext"]["runAsNonRoot"] and container["securityContext"]["readOnlyRootFilesystem"]
    assert pod["topologySpreadConstraints"]
    for workload in (d for d in docs if d["kind"] in ("Deployment", "Job", "CronJob")):
        text = json.dumps(workload)
        assert '"secretKeyRef"' in text and '"AIDFLOW_DATABASE_URL"' in text
    cluster = next(d for d in docs if d["kind"] == "Cluster")
    assert cluster["spec"]["instances"] == 3 and cluster["spec"]["postgresql"]["synchronous"]["number"] >= 1
    assert any(p["name"] == "barman-cloud.cloudnative-pg.io" for p in cluster["spec"]["plugins"])
    prune = next(d for d in docs if d["kind"] == "CronJob")
    worker = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "aidflow-worker")
    assert "--metrics-port" in worker["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "PodMonitor" in kinds
    assert prune["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"] == ["prune"]


def test_the_dashboard_shows_every_exported_metric():
    dashboard = json.loads((OVERLAYS[1] / "dashboards" / "aidflow.json").read_text())
    exprs = " ".join(t["expr"] for panel in dashboard["panels"] for t in panel["targets"])
    exported = set(re.findall(r'"(aidflow_[a-z_]+)"', (ROOT / "app" / "metrics.py").read_text()))
    assert exported and all(name in exprs for name in exported), exported - set(
        re.findall(r"aidflow_[a-z_]+", exprs)
    )


# --- the commands -----------------------------------------------------------------------------


def _deployed_commands() -> list[list[str]]:
    """Every argv given to the `aidflow` entrypoint: the image's CMD, compose, Kubernetes."""
    commands = []
    cmd = next(line for line in _dockerfile_stages()[-1] if line.startswith("CMD "))
    commands.append(json.loads(cmd[4:]))
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    for service in compose["services"].values():
        if "command" in service:
            commands.append(service["command"])
    for directory in OVERLAYS:
        for doc in _render(directory):
            commands.extend(c["args"] for c in _containers(doc) if "aidflow" in c["image"])
    return commands


def _containers(node):
    if isinstance(node, dict):
        if "image" in node and "name" in node:
            yield node
        for value in node.values():
            yield from _containers(value)
    elif isinstance(node, list):
        for value in node:
            yield from _containers(value)


def _without_address(argv: list[str]) -> tuple[str, ...]:
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg in (
            "--host",
            "--port",
            "--metrics-port",
            "--metrics-host",
        ):  # where it listens, not what it does
            skip = True
        else:
            out.append(arg)
    return tuple(out)


def _replica_test_commands() -> set[tuple[str, ...]]:
    tree = ast.parse((ROOT / "tests" / "test_replicas.py").read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "start":
            argv = [a.value if isinstance(a, ast.Constant) else "<value>" for a in node.args[1:]]
            if argv and not isinstance(node.args[1], ast.Starred):
                found.add(_without_address(argv))
    return found


def test_serve_and_worker_are_run_exactly_as_the_replica_test_runs_them():
    deployed = {_without_address(argv) for argv in _deployed_commands() if argv[0] in ("serve", "worker")}
    replica = _replica_test_commands()
    assert replica == {("serve", "--no-worker"), ("worker",)}, replica
    assert deployed == replica


def test_every_deployed_command_is_accepted_by_the_cli():
    commands = {tuple(argv) for argv in _deployed_commands()}
    assert {argv[0] for argv in commands} == {"migrate", "serve", "worker", "prune"}
    for argv in commands:
        result = subprocess.run([str(BIN / "aidflow"), *argv, "--help"], capture_output=True, text=True)
        assert result.returncode == 0, (argv, result.stdout + result.stderr)


def test_migrate_and_prune_run_as_the_image_runs_them(tmp_path):
    """The replica test's database is migrated in-process (tests/conftest.py); the image's one-shot
    `aidflow migrate` and the daily `aidflow prune` are run here, as processes, on a new database."""
    env = {
        **os.environ,
        "AIDFLOW_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'deploy.db'}",
        "AIDFLOW_ENV": "test",
        "AIDFLOW_LOG_JSON": "false",
    }
    for argv in (["migrate"], ["migrate"], ["prune"]):
        result = subprocess.run(
            [str(BIN / "aidflow"), *argv], env=env, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, (argv, result.stdout + result.stderr)
