"""Bank account numbers encrypted at rest with Fernet (AES-128-CBC + HMAC-SHA256, `cryptography`).

Keys come from the settings (``AIDFLOW_PAYMENT_ACCOUNT_KEYS``: comma-separated Fernet keys, the
first one encrypts, every one decrypts), so every replica reads and writes the same rows. Rotation:
put a new key first, keep the old ones after it, run ``aidflow rotate-account-keys`` (re-encrypts
every row not yet under the first key), then drop the old keys. Outside production, with no key
set, one is derived from the signing secret (shared by the installation's processes).
"""

import base64
import hashlib
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from app.domain.errors import Invalid


def fingerprint(key: bytes) -> str:
    """Names a key in the table without revealing it."""
    return hashlib.sha256(b"aidflow-account-key:" + key).hexdigest()[:16]


def derived_key(secret: str) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"aidflow bank accounts")
    return base64.urlsafe_b64encode(hkdf.derive(secret.encode()))


@dataclass(frozen=True)
class Vault:
    keys: tuple[bytes, ...]

    @classmethod
    def from_settings(cls, configured: str | None, signing_secret: str | None, env: str) -> "Vault":
        keys = tuple(k.strip().encode() for k in (configured or "").split(",") if k.strip())
        if not keys and signing_secret and env != "production":
            keys = (derived_key(signing_secret),)
        if not keys:
            raise Invalid("payment_keys_missing", "未配置银行账号加密密钥（AIDFLOW_PAYMENT_ACCOUNT_KEYS）")
        return cls(keys)

    def __post_init__(self) -> None:
        for key in self.keys:
            try:
                Fernet(key)
            except ValueError:
                raise Invalid(
                    "payment_keys_invalid", "银行账号加密密钥格式错误（应为 Fernet 密钥）"
                ) from None

    @property
    def current(self) -> str:
        return fingerprint(self.keys[0])

    def _fernet(self) -> MultiFernet:
        return MultiFernet([Fernet(k) for k in self.keys])

    def encrypt(self, number: str) -> str:
        return self._fernet().encrypt(number.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet().decrypt(token.encode()).decode()
        except InvalidToken:
            raise Invalid("payment_key_unknown", "银行账号无法解密：加密它的密钥已不在配置中") from None

    def rotate(self, token: str) -> str:
        return self._fernet().rotate(token.encode()).decode()


def mask(last4: str) -> str:
    return "**** **** **** " + last4
