"""When PostgreSQL goes away (failover, restart) or a write lands on a read-only server (a standby),
the service answers 503 ``database_unavailable`` with Retry-After — retryable — instead of a 500
internal error, and recovers by itself, without a restart, when a writable server is back.
The full failover (primary killed, standby promoted, under load) is `make drill` (docs/drill.md)."""

import asyncio
import uuid

import asyncpg
from sqlalchemy.engine import make_url

from tests.conftest import ADMIN_PASSWORD, _empty_postgres
from tests.helpers import VILLAGE_A, Api, id_number


class Proxy:
    """A TCP relay to PostgreSQL that can be cut (connections reset, new ones refused) and restored."""

    def __init__(self, host: str, port: int):
        self.target, self.server, self.port, self.pipes = (host, port), None, None, set()

    async def open(self) -> None:
        self.server = await asyncio.start_server(self._relay, "127.0.0.1", self.port or 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        self.server.close()
        await self.server.wait_closed()
        for writer in list(self.pipes):
            writer.transport.abort()

    async def _relay(self, reader, writer) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self.pipes |= {writer, up_writer}

        async def pump(src, dst):
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.transport.abort()

        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))


def _body() -> dict:
    return {
        "program": "dibao",
        "division_code": VILLAGE_A,
        "applicant": {"name": "张三", "id_number": id_number(), "phone": "13900000000"},
        "data": {"household_size": 3},
    }


async def test_database_gone_answers_503_and_recovers_without_restart(pg_database_url, running_app):
    await _empty_postgres(pg_database_url)
    url = make_url(pg_database_url)
    proxy = Proxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.open()
    # env=development: no test-clock middleware, which reads the database before the routes (outside
    # the handlers by type; uvicorn still sends its 503, but an in-process client sees the exception).
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    async with running_app(proxied, env="development") as client:
        api = Api(client, pg_database_url)
        await api.setup_places_and_people(ADMIN_PASSWORD)
        await proxy.cut()  # the primary dies: pooled connections reset, new ones refused
        r = await api.post("portal", "/applications", _body(), headers={"Idempotency-Key": "gone-1"})
        assert r.status_code == 503, r.text
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["code"] == "database_unavailable" and r.headers["Retry-After"] == "1"
        assert await api.count("applications") == 0
        page = await client.get("/ui/public/notices")  # a web page says to wait, not "internal error"
        assert page.status_code == 503 and page.headers["Retry-After"] == "1"
        assert "请稍候几秒后刷新页面重试" in page.text and "错误编号" not in page.text
        await proxy.open()  # a writable server is back at the address: same process, no restart
        r = await api.post("portal", "/applications", _body(), headers={"Idempotency-Key": "gone-1"})
        assert r.status_code == 201, r.text
        assert await api.count("applications") == 1
    await proxy.cut()


async def test_write_on_read_only_server_answers_503(pg_database_url, running_app):
    """A standby refuses writes with SQLSTATE 25006; a role whose transactions are read-only does the same."""
    await _empty_postgres(pg_database_url)
    async with running_app(pg_database_url) as client:
        api = Api(client, pg_database_url)
        await api.setup_places_and_people(ADMIN_PASSWORD)
    role = f"standby_{uuid.uuid4().hex[:8]}"
    url = make_url(pg_database_url)
    admin = await asyncpg.connect(url.set(drivername="postgresql").render_as_string(hide_password=False))
    try:
        await admin.execute(f"CREATE ROLE {role} LOGIN SUPERUSER")
        await admin.execute(f"ALTER ROLE {role} SET default_transaction_read_only = on")
        read_only = url.set(username=role, password=None).render_as_string(hide_password=False)
        async with running_app(read_only, env="development") as client:
            api.client = client
            r = await api.post("portal", "/applications", _body())
            assert r.status_code == 503, r.text
            assert r.json()["code"] == "database_unavailable"
            assert (await api.get("portal", "/applications")).status_code == 200  # reads still served
        assert await api.count("applications") == 0
    finally:
        await admin.execute(f"DROP ROLE IF EXISTS {role}")
        await admin.close()


async def test_the_worker_says_once_that_the_database_is_gone_and_when_it_is_back(pg_database_url, tmp_path):
    """It logged worker_iteration_failed with a full traceback at every poll of an outage."""
    import os
    import subprocess

    from tests.time_travel import command

    await _empty_postgres(pg_database_url)
    url = make_url(pg_database_url)
    proxy = Proxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.open()
    through = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    env = {
        **os.environ,
        "AIDFLOW_DATABASE_URL": through,
        "AIDFLOW_ENV": "test",
        "AIDFLOW_LOG_JSON": "false",
        "AIDFLOW_SECRET_KEY": "worker-outage-test-" + "x" * 32,
        "AIDFLOW_WORKER_POLL_SECONDS": "0.1",
    }
    log_path = tmp_path / "worker.log"
    with open(log_path, "w") as log:
        worker = subprocess.Popen(command("aidflow", "worker"), env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        for _ in range(300):
            if "worker_started" in log_path.read_text():
                break
            assert worker.poll() is None, log_path.read_text()[-3000:]
            await asyncio.sleep(0.1)
        await asyncio.sleep(1)  # rounds against a working database
        await proxy.cut()
        await asyncio.sleep(3)  # some thirty polls without a database
        await proxy.open()
        for _ in range(100):
            if "database_available_again" in log_path.read_text():
                break
            await asyncio.sleep(0.1)
    finally:
        worker.terminate()
        # Waited for off the event loop: the relay runs on it, and a worker stopping gracefully
        # (releasing what it holds) talks to the database through it.
        await asyncio.to_thread(worker.wait, 20)
        await proxy.cut()
    text = log_path.read_text()
    assert text.count("database_unavailable") == 1, text[-3000:]
    assert text.count("database_available_again") == 1, text[-3000:]
    assert "worker_iteration_failed" not in text and "Traceback" not in text, text[-3000:]
