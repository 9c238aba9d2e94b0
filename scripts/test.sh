#!/usr/bin/env bash
# Runs the whole test suite against real SQLite and real PostgreSQL.
# PostgreSQL: AIDFLOW_TEST_DATABASE_URL if set; else a server on 127.0.0.1:5432 (user postgres);
# else a private throw-away cluster started from the local PostgreSQL binaries.
# With --bench, runs the benchmarks instead of the tests against the same server.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python

can_connect() {
  "$PY" - "$1" <<'PYEOF' >/dev/null 2>&1
import asyncio, sys, asyncpg
from sqlalchemy.engine import make_url
url = make_url(sys.argv[1]).set(drivername="postgresql").render_as_string(hide_password=False)
async def main():
    conn = await asyncpg.connect(url, timeout=5)
    await conn.close()
asyncio.run(main())
PYEOF
}

start_private_cluster() {
  local bindir
  bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$bindir" ] || bindir=$(dirname "$(command -v initdb 2>/dev/null || echo /nonexistent/x)")
  [ -x "$bindir/initdb" ] || return 1
  local dir="${TMPDIR:-/tmp}/aidflow-pg-$(id -u)" port=54329 run=()
  if [ "$(id -u)" = 0 ]; then
    # initdb refuses to run as root; the postgres account comes with the package.
    id postgres >/dev/null 2>&1 || return 1
    run=(runuser -u postgres --)
  fi
  if [ ! -f "$dir/PG_VERSION" ]; then
    mkdir -p "$dir" && [ "$(id -u)" != 0 ] || chown postgres "$dir"
    "${run[@]}" "$bindir/initdb" -D "$dir" -U postgres --auth=trust >/dev/null
  fi
  "${run[@]}" "$bindir/pg_ctl" -D "$dir" -o "-p $port -k $dir -c listen_addresses=127.0.0.1" -l "$dir/log" -w start >/dev/null 2>&1 || true
  export AIDFLOW_TEST_DATABASE_URL="postgresql://postgres@127.0.0.1:$port/postgres"
  can_connect "$AIDFLOW_TEST_DATABASE_URL"
}

# The browser tests drive Debian's Chromium (Playwright's own browser download is not used).
CHROMIUM="${AIDFLOW_CHROMIUM:-/usr/bin/chromium}"
if [ "${1:-}" != "--bench" ] && [ ! -x "$CHROMIUM" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing Chromium and CJK fonts for the browser tests (apt-get)..."
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk) >/dev/null \
      || { echo "apt-get could not install chromium; the browser tests need it." >&2; exit 1; }
  else
    cat >&2 <<MSG
The browser tests need Chromium at $CHROMIUM and it is missing.
Install it (Debian/Ubuntu: \`sudo apt-get install chromium fonts-noto-cjk\`) or point AIDFLOW_CHROMIUM
at a Chromium binary, then run \`make test\` again.
MSG
    exit 1
  fi
fi

# tests/test_deploy_manifests.py renders the kustomize manifests with kubectl (Debian's package).
if [ "${1:-}" != "--bench" ] && ! command -v kubectl >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing kubectl for the manifest tests (apt-get)..."
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kubectl) >/dev/null \
      || { echo "apt-get could not install kubectl; the manifest tests need it." >&2; exit 1; }
  else
    echo "The manifest tests need kubectl (\`sudo apt-get install kubectl\`); install it and run \`make test\` again." >&2
    exit 1
  fi
fi

if [ -z "${AIDFLOW_TEST_DATABASE_URL:-}" ]; then
  default="postgresql://postgres@127.0.0.1:5432/postgres"
  if can_connect "$default"; then
    export AIDFLOW_TEST_DATABASE_URL="$default"
  else
    if command -v pg_ctlcluster >/dev/null 2>&1 && [ -n "$(ls /etc/postgresql 2>/dev/null)" ]; then
      pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n 1)" main start >/dev/null 2>&1 || true
    fi
    if can_connect "$default"; then
      export AIDFLOW_TEST_DATABASE_URL="$default"
    elif ! start_private_cluster; then
      cat >&2 <<'MSG'
The tests need PostgreSQL and none could be reached or started.
Install it (Debian/Ubuntu: `sudo apt-get install postgresql`; macOS: `brew install postgresql@15`)
and run `make test` again, or point the tests at a server you have:
  AIDFLOW_TEST_DATABASE_URL=postgresql://user:password@host:5432/postgres make test
MSG
      exit 1
    fi
  fi
fi
echo "PostgreSQL for tests: $AIDFLOW_TEST_DATABASE_URL (a fresh database is created and dropped)"

if [ "${1:-}" = "--bench" ]; then
  exec "$PY" bench/bench_service.py
fi
if [ $# -eq 0 ]; then
  # Style first: a lint error or an unformatted file fails in seconds, not after the suite.
  .venv/bin/ruff check app tests scripts bench migrations
  .venv/bin/ruff format --check app tests scripts bench migrations
  # Types next (settings in pyproject.toml: strict for app/domain and app/engine).
  .venv/bin/mypy app
fi
if [ $# -gt 0 ]; then
  exec "$PY" -m pytest "$@"
fi
# Two test processes (pytest-xdist), one per core here: each has its own PostgreSQL database, SQLite
# files, servers and browser (tests/conftest.py), so they share nothing but the PostgreSQL server.
workers="${AIDFLOW_TEST_WORKERS:-2}"
"$PY" -m pytest -n "$workers"
# The failover drill (about 40 s; `make drill` runs it alone): a primary killed under load, its
# synchronous standby promoted, no acknowledged write lost. Needs the PostgreSQL server binaries.
"$PY" scripts/drill_failover.py
# The date-sensitive tests again, on a day years ahead of today (see tests/time_travel.py):
# a test or a code path that reads the real date instead of the service clock fails here. On PostgreSQL
# only: time travel moves the test process's clock, not a database's, so the second database adds nothing.
shifted="${AIDFLOW_TEST_TODAY:-$("$PY" -c 'import datetime as d; print(d.date.today() + d.timedelta(days=3 * 365 + 137))')}"
echo "Date-sensitive tests again with the real date moved to $shifted"
AIDFLOW_TEST_TODAY="$shifted" AIDFLOW_TEST_DATABASES=postgresql exec "$PY" -m pytest -n "$workers" -m dates -q
