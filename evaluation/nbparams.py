"""A notebook's ``parameters`` cell: which parameters it takes, of which type.

The cell tagged ``parameters`` (papermill's convention) holds one annotated assignment per
parameter, with a literal default and a comment that explains it::

    period_start: str = "2024-01-01"  # first day of the period (ISO date)
    suppression_threshold: int = 5    # counts below this are not shown

The cell is read with :mod:`ast`, never executed. A default of ``None`` marks a parameter
that a run must set.
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "float": (float, int),
    "bool": (bool,),
    "list": (list,),
    "dict": (dict,),
}


class NotebookParameterError(ValueError):
    """The notebook's parameters cell is missing or cannot be read."""


@dataclass(frozen=True)
class Parameter:
    """One declared parameter: name, type name, default and help text."""

    name: str
    type: str
    default: Any
    help: str = ""

    @property
    def required(self) -> bool:
        return self.default is None

    def check(self, value: Any) -> str | None:
        """Return why ``value`` does not fit this parameter, or ``None`` when it does."""
        if self.type == "str" and isinstance(value, date):
            return None  # YAML reads 2024-01-01 as a date; it is passed on as ISO text
        allowed = TYPES.get(self.type)
        if allowed is None:
            return None
        if isinstance(value, bool) and self.type != "bool":
            return f"expected {self.type}, got a yes/no value {value!r}"
        if not isinstance(value, allowed):
            return f"expected {self.type}, got {type(value).__name__} {value!r}"
        return None

    def coerce(self, value: Any) -> Any:
        """Return ``value`` as the notebook will receive it (dates as ISO text)."""
        if self.type == "str" and isinstance(value, date):
            return value.isoformat()
        if self.type == "float" and isinstance(value, int):
            return float(value)
        return value


def parameters_cell(nb: dict[str, Any]) -> str:
    """Return the source of the cell tagged ``parameters``."""
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code" and "parameters" in cell.get("metadata", {}).get(
            "tags", []
        ):
            source = cell.get("source", "")
            return "".join(source) if isinstance(source, list) else source
    raise NotebookParameterError("no code cell tagged 'parameters'")


def parse(source: str) -> dict[str, Parameter]:
    """Parse a parameters cell into declared parameters, in order."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise NotebookParameterError(f"parameters cell line {exc.lineno}: {exc.msg}") from None
    lines = source.splitlines()
    out: dict[str, Parameter] = {}
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            type_name = ast.unparse(node.annotation)
            value_node = node.value
        elif (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
        ):
            type_name, value_node = "", node.value
        else:
            continue
        name = node.target.id if isinstance(node, ast.AnnAssign) else node.targets[0].id
        try:
            default = ast.literal_eval(value_node) if value_node is not None else None
        except ValueError:
            raise NotebookParameterError(f"parameter {name!r}: default is not a literal") from None
        if not type_name:
            type_name = "str" if default is None else type(default).__name__
        comment = (
            lines[node.lineno - 1].partition("#")[2].strip() if node.lineno <= len(lines) else ""
        )
        out[name] = Parameter(name, type_name, default, comment)
    return out


def inspect(notebook: Path) -> dict[str, Parameter]:
    """Return the parameters a notebook declares."""
    try:
        nb = json.loads(Path(notebook).read_text(encoding="utf-8"))
        return parse(parameters_cell(nb))
    except (OSError, json.JSONDecodeError) as exc:
        raise NotebookParameterError(f"{notebook}: cannot read notebook: {exc}") from None
    except NotebookParameterError as exc:
        raise NotebookParameterError(f"{notebook}: {exc}") from None
