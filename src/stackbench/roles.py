"""The role defaults (roles/<role>/defaults/main.yml), where versions and ports are declared once:
the controller reads them from there instead of repeating them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from stackbench.errors import StackbenchError
from stackbench.paths import collection_root


def defaults_file(role: str) -> Path:
    return collection_root() / "roles" / role / "defaults" / "main.yml"


def default_in(path: Path, variable: str) -> Any:
    """The value of `variable` in a defaults file, as written there; None when the file or the variable is missing."""
    if not path.is_file():
        return None
    return (yaml.safe_load(path.read_text()) or {}).get(variable)


def default(role: str, variable: str) -> Any:
    """A variable of roles/<role>/defaults/main.yml; refused when the role does not declare it."""
    value = default_in(defaults_file(role), variable)
    if value is None:
        raise StackbenchError(f"no {variable} in {defaults_file(role).relative_to(collection_root())}")
    return value


def release_in(path: Path, variable: str) -> str | None:
    """The plain release number (`1.2.3`, a leading `v` dropped) `variable` declares in a defaults file,
    None when it declares none (missing, or a template)."""
    value = default_in(path, variable)
    match = re.fullmatch(r"v?([0-9.]+)", str(value).strip()) if value is not None else None
    return match.group(1) if match else None
