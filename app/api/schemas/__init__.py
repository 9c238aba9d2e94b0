"""Response models of the REST API: what each route returns, as documented in ``/openapi.json``.

They describe the dicts the domain returns; routes declare them with ``response_model`` (see
``app/api/routing.py``: unset keys are never added, so a model cannot change a response's shape).
Unknown keys are refused (``extra="forbid"``): a field the domain starts returning fails the tests
until it is documented here.
"""

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field


class Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


# A JSON number as the domain computed it: an int stays an int (a `float` field would print 500 as 500.0).
Number = int | float
Json = dict[str, Any]
Timestamp = datetime
Count = Annotated[int, Field(ge=0)]
Version = Annotated[int, Field(ge=1)]
DivisionCode = Annotated[str, Field(max_length=32)]
Username = Annotated[str, Field(max_length=100)]
