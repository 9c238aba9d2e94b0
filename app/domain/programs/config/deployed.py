"""What modules below ``programs.definitions`` (which imports them to check a deployment) may read of
a deployed ``Definition``; they take this instead of importing it back."""

from typing import Protocol

from app import engine
from app.domain.programs.config.elements import DefinitionConfig


class Deployed(Protocol):
    @property
    def key(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def model(self) -> engine.ProcessModel: ...

    # The process's properties, parsed and checked once
    @property
    def config(self) -> DefinitionConfig: ...
