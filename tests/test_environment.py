"""environment.yml (conda) and pyproject.toml (pip) name the same dependencies."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _split(spec: str) -> tuple[str, str]:
    match = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$", spec)
    assert match, spec
    return match[1].lower().replace("_", "-"), match[2].replace(" ", "")


def pyproject_requirements() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = project["dependencies"] + [
        s for group in project["optional-dependencies"].values() for s in group
    ]
    return dict(_split(s) for s in specs)


def conda_requirements() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    specs: list[str] = []
    for entry in env["dependencies"]:
        if isinstance(entry, dict):
            specs.extend(s.split("#")[0] for s in entry["pip"])
        else:
            specs.append(entry)
    reqs = dict(_split(s) for s in specs)
    reqs.pop("pip", None)
    reqs.pop("python", None)
    return reqs


def test_environment_yml_names_the_same_dependencies_as_pyproject():
    assert conda_requirements() == pyproject_requirements()


def test_python_version_agrees():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert f"python{project['requires-python']}" in env["dependencies"]
