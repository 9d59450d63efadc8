"""Throwaway copies of the bundled knowledge base for tests to break, and YAML edits on them."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.yaml_io import dump_yaml, load_yaml

CARDS_DIR = Path(__file__).resolve().parents[2] / "cards"


def copy_cards(tmp_path: Path, *ignore: str) -> Path:
    """A private copy of ``cards/`` (without the ``ignore`` patterns) under ``tmp_path``."""
    target = tmp_path / "cards"
    shutil.copytree(CARDS_DIR, target, ignore=shutil.ignore_patterns(*ignore) if ignore else None)
    return target


def read_yaml(path: Path) -> Any:
    return load_yaml(path)


def write_yaml(path: Path, data: Any) -> None:
    path.write_text(dump_yaml(data, sort_keys=False), "utf-8")


def edit_yaml(path: Path, change: Callable[[Any], None] | dict[str, Any]) -> None:
    """Apply ``change`` (a function of the data, or keys to set) to the YAML file at ``path``."""
    data = read_yaml(path)
    if callable(change):
        change(data)
    else:
        data.update(change)
    write_yaml(path, data)


def add_topic(cards: Path, topic: str, status: str = "active", title: str = "A test topic") -> None:
    """List ``topic`` in the copy's ``topics.yaml``."""
    edit_yaml(
        cards / "topics.yaml",
        lambda data: data["topics"].append({"id": topic, "status": status, "title": title}),
    )


def set_status(cards: Path, topic: str, status: str) -> None:
    """Give a class a new status in its rule file and in ``topics.yaml``, as a pharmacist would."""
    edit_yaml(cards / "rules" / f"{topic}.yaml", {"status": status})

    def relist(data: Any) -> None:
        for entry in data["topics"]:
            if entry["id"] == topic:
                entry["status"] = status

    edit_yaml(cards / "topics.yaml", relist)
