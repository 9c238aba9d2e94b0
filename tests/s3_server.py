"""A real S3-compatible server for the storage tests: moto's server mode, started once per test
session as a subprocess on a free port (HTTP, its own process, its own bucket per test)."""

import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import boto3
import httpx
import pytest

CREDENTIALS = {"aws_access_key_id": "materials-test", "aws_secret_access_key": "materials-test-secret"}
REGION = "us-east-1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def s3_endpoint():
    port = _free_port()
    server = Path(sys.executable).parent / "moto_server"
    process = subprocess.Popen(
        [str(server), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                httpx.get(url + "/moto-api/", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        else:
            raise RuntimeError("moto_server did not start")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def s3_client(endpoint: str, service: str = "s3"):
    return boto3.session.Session().client(service, endpoint_url=endpoint, region_name=REGION, **CREDENTIALS)


@pytest.fixture
def s3_bucket(s3_endpoint) -> str:
    """A fresh bucket on the shared server."""
    name = f"materials-{uuid.uuid4().hex[:12]}"
    s3_client(s3_endpoint).create_bucket(Bucket=name)
    return name


def s3_settings(endpoint: str, bucket: str, **extra) -> dict:
    return {
        "storage_backend": "s3",
        "storage_s3_endpoint": endpoint,
        "storage_s3_bucket": bucket,
        "storage_s3_region": REGION,
        "storage_s3_access_key_id": CREDENTIALS["aws_access_key_id"],
        "storage_s3_secret_access_key": CREDENTIALS["aws_secret_access_key"],
        **extra,
    }
