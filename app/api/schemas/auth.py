"""Tokens and the caller; the health endpoints."""

from typing import Literal

from pydantic import Field

from app.api.schemas import Out
from app.api.schemas.admin import Grant


class Token(Out):
    access_token: str
    token_type: Literal["bearer"]
    expires_in: int = Field(ge=1, description="seconds")


class Me(Out):
    name: str
    kind: Literal["user", "api_key"]
    grants: list[Grant]


class Health(Out):
    status: Literal["ok"]


class Ready(Out):
    status: Literal["ready"]
