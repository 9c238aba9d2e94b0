"""What every table module shares: the metadata with its naming convention and the timestamp column."""

from typing import Any

from sqlmodel import Field, SQLModel

from app.db.types import UTCDateTime

metadata = SQLModel.metadata
metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def timestamp(nullable: bool = False, **kw: Any) -> Any:
    return Field(default=None, sa_type=UTCDateTime(), nullable=nullable, **kw)
