"""The secrets a flow's text names with ``secret('NAME')``."""
from __future__ import annotations

import re

# ``secret('NAME')`` as a flow writes it (Pebble's single or double quotes).
_SECRET_CALL = re.compile(r"""\bsecret\(\s*(['"])([^'"\s]+)\1\s*\)""")


def secret_names(text: str) -> tuple[str, ...]:
    """The secrets a flow's text names: every task of its executions masks them, so a
    value passed on through outputs or files is masked where it shows up again."""
    return tuple(sorted({match.group(2) for match in _SECRET_CALL.finditer(text)}))
