"""YAML for tests, read with libyaml's loader as the product's own loader reads it (``rules.files``).

The pure-Python loader took most of collection: the rule cases are parametrised from 90 files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_DUMPER: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def load_yaml(path: Path) -> Any:
    """The YAML file at ``path`` (safe types only)."""
    return yaml.load(path.read_bytes(), Loader=_LOADER)  # noqa: S506 (a safe loader)


def dump_yaml(data: Any, *, sort_keys: bool = True) -> str:
    return yaml.dump(data, Dumper=_DUMPER, sort_keys=sort_keys, allow_unicode=False)
