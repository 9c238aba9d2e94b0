"""Names for the shapes of data that cross the code as plain dicts, for type checking (mypy)."""

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import ColumnElement, Row, RowMapping

# A JSON object: request and event payloads, case data, what a view answers. Open by nature.
Json = dict[str, Any]

# A row read by column name: a RowMapping from a query, or a dict made from one.
RowLike = Mapping[str, Any] | RowMapping

# A principal's SQL filter on a division path column (``Principal.visible``).
Visibility = Callable[[ColumnElement[str]], ColumnElement[bool]]

# A result row of any columns, read by attribute (``row.name``).
AnyRow = Row[*tuple[Any, ...]]
