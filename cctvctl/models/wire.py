"""The base of every wire model, and the one-line text rule free-text fields follow."""

from __future__ import annotations

import re
from typing import Annotated, Final

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
)

#: C0 controls (tab and newline included), DEL, C1 controls, and the Unicode line and
#: paragraph separators. Nobody types these into a one-line field on purpose, and stored
#: verbatim they reach an admin's terminal later as escape sequences.
CONTROL_CHARACTERS: Final = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")

ONE_LINE_ACCEPTED: Final = (
    "accepted: printable text on one line (no tabs, newlines or other control characters)"
)


def _refuse_control_characters(value: str) -> str:
    found = CONTROL_CHARACTERS.search(value)
    if found is not None:
        raise ValueError(
            f"contains the control character U+{ord(found.group()):04X} at position "
            f"{found.start() + 1}; {ONE_LINE_ACCEPTED}"
        )
    return value


def refuse_control_characters_in_text(value: object) -> object:
    return _refuse_control_characters(value) if isinstance(value, str) else value


#: A free-text field a person types on one line: a name, a case number, a reason. The
#: pattern only documents the rule in the OpenAPI schema (for clients and schema-driven
#: fuzzers); the validator enforces it with a message that names the character.
OneLine = Annotated[
    str,
    AfterValidator(_refuse_control_characters),
    Field(json_schema_extra={"pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029]*$"}),
]


# Times are timezone-aware UTC datetimes; pydantic writes them as RFC 3339.


class Wire(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)
