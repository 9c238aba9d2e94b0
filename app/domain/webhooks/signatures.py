"""Standard Webhooks signatures (https://www.standardwebhooks.com): secrets, signing, headers.

``webhook-signature`` is ``v1,`` + base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}")), the key
being the base64-decoded part of a ``whsec_…`` secret. During a rotation's overlap the header
carries one signature per valid secret, space-separated; a receiver accepts any that matches.
"""

import base64
import binascii
import hashlib
import hmac
import secrets

from app.domain.errors import Invalid

PREFIX = "whsec_"


def generate_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def check_secret(secret: str) -> str:
    """A caller-chosen secret must be ``whsec_`` + base64 of 24 to 64 random bytes."""
    try:
        key = (
            base64.b64decode(secret.removeprefix(PREFIX), validate=True) if secret.startswith(PREFIX) else b""
        )
    except binascii.Error:
        key = b""
    if not 24 <= len(key) <= 64:
        raise Invalid(
            "invalid_webhook_secret", "secret must be 'whsec_' followed by base64 of 24 to 64 bytes"
        )
    return secret


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix(PREFIX))
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(secrets_: list[str], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(sign(s, msg_id, timestamp, body) for s in secrets_),
    }
