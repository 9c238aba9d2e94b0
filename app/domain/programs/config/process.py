"""The process element's properties: the program as a whole."""

from typing import Annotated, Literal

from pydantic import BeforeValidator, Field

from app.domain.programs.config.values import (
    Checklist,
    Expression,
    Levels,
    NamedItems,
    Names,
    ProgramKey,
    PropertyModel,
    SettingAuthority,
    SettingRange,
    SettingValue,
    Text,
    TimeLimit,
    _authority,
    _pairs,
    family,
    refused_as,
)


class ProcessConfig(PropertyModel):
    """Properties of the ``bpmn:process`` element: the program as a whole."""

    materials: Checklist = Field(
        (),
        description="材料 the program asks for with an application: `<key>:<label>` separated by commas, "
        "the label ending in `?` when not required (`hukou:户口簿, property:家庭财产申报?`), then "
        "optional `; when=<expression over the case's data>` (required only then), `; types=pdf/image`, "
        "`; count=N|N..M|N..`. Uploads then name one of these keys (or a step's, or `other`); the "
        "acceptance step lists what is missing.",
        json_schema_extra=refused_as("invalid_materials"),
    )
    materials_retention_years: Annotated[int, Field(ge=1, le=100)] | None = Field(
        None,
        description="How many years after a case ends its materials are kept; then `aidflow prune` "
        "deletes them (the row stays, marked deleted; the bytes go once no row names them) with an "
        "`attachment.deleted` event. Absent: kept for good.",
        json_schema_extra=refused_as("invalid_property"),
    )
    starters: Names = Field(
        (),
        description="Who may start a case: comma-separated role keys and `portal` "
        "(Camunda's `camunda:candidateStarterGroups` when absent). Required.",
    )
    division_levels: Levels = Field(
        (),
        description="Levels of the places a case may be filed at (e.g. `village,township`); "
        "empty: any place.",
        json_schema_extra=refused_as("invalid_level"),
    )
    application_form: Text | None = Field(
        None,
        description="JSON Schema file under `processes/forms/` the application's `data` must satisfy; "
        "without one, scalar values and short lists of them only.",
    )
    case_time_limit: TimeLimit | None = Field(
        None,
        description="The whole case's time limit: `30 working days`, `3 days`, `by day 20` or an ISO duration.",
        json_schema_extra=refused_as("invalid_time_limit"),
    )
    case_number_prefix: Text | None = Field(
        None,
        pattern=r"^[A-Z][A-Z0-9]{0,9}$",
        description="Prefix of case numbers (`DB-…`); the program key in capitals when absent.",
    )
    about: Literal["person", "place"] = Field(
        "person",
        description="`place`: a case is a place's own (a school's monthly report) and has no applicant.",
    )
    schedule: Literal["monthly"] | None = Field(
        None,
        description="`monthly`: the worker starts this month's case for every place of `division_levels`.",
    )
    subject_program: NamedItems = Field(
        (),
        description="The programs whose approved case (enrolment) a case of this process is about "
        "(a re-check, a termination); the application then names it as `subject_id`.",
    )
    recheck_program: ProgramKey | None = Field(
        None,
        description="The program started when an enrolment's re-check date comes "
        "(months from the setting `recheck_months_<category>`).",
    )
    exclusive_with: Names = Field(
        (),
        description="Programs a person may not be enrolled in at the same time as this one.",
    )
    enrolment_messages: Annotated[dict[str, str], BeforeValidator(_pairs)] = Field(
        {},
        description="`<message>:<date field>, …`: messages that end an approved case's support "
        "on the date in that payload field (e.g. `person_deceased:died_on`).",
    )
    notice_fields: Names | None = Field(
        None,
        description="Which public fields a notice shows (checked against the fields that may be published); "
        "the standard set when absent.",
        json_schema_extra=refused_as("invalid_notice_fields"),
    )
    notice_subject: Literal["adult", "child"] = Field(
        "adult",
        description="`child`: entries show an entry number only, never a name (student and preschool aid).",
        json_schema_extra=refused_as("invalid_notice_fields"),
    )
    owner_department: Text | None = Field(
        None,
        pattern=r"^[a-z][a-z0-9_]*$",
        description="The department whose offices set the program's settings (`civil_affairs`…) and "
        "prepare its payment batches (`county_<department>`); required with settings; never `finance` "
        "(the county finance office approves payments: `invalid_owner_department`).",
        json_schema_extra=refused_as("invalid_setting"),
    )
    settings: dict[str, SettingValue] = Field(
        {},
        alias="setting.*",
        description="`setting.<name>`: a program setting and its national default (a JSON number or "
        'boolean, else text); expressions read it as `settings["<name>"]`.',
        json_schema_extra=family("setting.", "invalid_setting"),
    )
    setting_ranges: dict[str, SettingRange] = Field(
        {},
        alias="setting_range.*",
        description="`setting_range.<name>` = `min..max`: the national bound of a numeric setting.",
        json_schema_extra=family("setting_range.", "invalid_setting"),
    )
    setting_authorities: dict[str, Annotated[SettingAuthority, BeforeValidator(_authority)]] = Field(
        {},
        alias="setting_authority.*",
        description="`setting_authority.<name>` = `<level>:<direction>`: the lowest level that may set it "
        "(or `country`) and how a lower place may deviate (`ceiling`, `floor`, `any`). Required per setting.",
        json_schema_extra=family("setting_authority.", "invalid_setting"),
    )
    rules: dict[str, Expression] = Field(
        {},
        alias="rule.*",
        description="`rule.<name>`: an eligibility expression that must hold when an application arrives.",
        json_schema_extra=family("rule."),
    )
    rule_messages: dict[str, str] = Field(
        {},
        alias="rule_message.*",
        description="`rule_message.<name>`: the users' words when `rule.<name>` does not hold "
        "(`{setting}` shows a setting in force).",
        json_schema_extra=family("rule_message."),
    )

    def rule_list(self) -> list[tuple[str, str, str]]:
        """(name, expression, message) in the order declared."""
        return [(name, source, self.rule_messages.get(name, name)) for name, source in self.rules.items()]
