"""What a process file declares in its properties, parsed once into frozen, typed models.

Every ``spiffworkflow:property`` / ``camunda:property`` of a process, a user task, an end event,
a waiting element (event-based gateway, catch event), a lane and a ``bpmn:message`` is read here and
nowhere else: a name no model knows is refused at deploy (``unknown_property``), a value that
does not parse is refused naming the property (``invalid_property``, or the older code of the
check it belongs to), both with the element id and the line, all problems at once. The rest of
the service reads attributes (``definition.config.steps[step_id].form``), never strings.

Families of names (``setting.<name>``, ``rule.<name>``…) become dict fields. The description of
each field is the documentation: ``scripts/gen_bpmn_properties.py`` writes
``docs/bpmn-properties.md`` from these models.
"""

from app.domain.programs.config.deployed import Deployed
from app.domain.programs.config.elements import (
    BY_TAG,
    BenefitConfig,
    CatchEventConfig,
    DefinitionConfig,
    EndEventConfig,
    LaneConfig,
    MessageConfig,
    StepConfig,
)
from app.domain.programs.config.process import ProcessConfig
from app.domain.programs.config.reading import parse, read
from app.domain.programs.config.values import OUTCOMES, SUBJECT_EFFECTS, SettingAuthority

__all__ = [
    "BY_TAG",
    "OUTCOMES",
    "SUBJECT_EFFECTS",
    "BenefitConfig",
    "CatchEventConfig",
    "DefinitionConfig",
    "Deployed",
    "EndEventConfig",
    "LaneConfig",
    "MessageConfig",
    "ProcessConfig",
    "SettingAuthority",
    "StepConfig",
    "parse",
    "read",
]
