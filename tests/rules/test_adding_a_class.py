"""Adding a class is YAML only (rule file, cases file, a line in topics.yaml), and overlaps are caught."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from cds_service import cli
from cds_service.errors import RuleSetInvalid
from cds_service.rules.loader import load_knowledge_base
from tests.rules.kb_files import add_topic, edit_yaml, read_yaml

FICTION = Path(__file__).parent / "fixtures" / "fiction"
SHARED_MESSAGE = (
    "cards/rules/FICTION.yaml: members[1].name: 'lorazepam' is also a member of BZD; "
    "if deliberate, list BZD in its also_in (in both files)"
)


def _add_fiction(cards: Path) -> None:
    for path in FICTION.glob("*.yaml"):
        shutil.copy(path, cards / "rules" / path.name)
    add_topic(cards, "FICTION", "active", "Fictional test class")


def _add_member(data: dict[str, Any], name: str, **fields: Any) -> None:
    data["members"].append({"name": name, **fields})


def test_new_class_added_with_yaml_only_loads_as_active(cards: Path) -> None:
    _add_fiction(cards)

    kb = load_knowledge_base(cards)

    assert kb.rule("FICTION").status == "active"
    assert {case.name for case in kb.cases["FICTION"].cases} == {
        "fires_when_fictazol_named_in_text",
        "silent_when_only_sertraline",
    }


def test_kb_check_when_new_class_added_prints_ok(
    cards: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _add_fiction(cards)

    assert cli.main(["kb", "check", str(cards)]) == 0
    assert capsys.readouterr().out.startswith("ok: 17 rules, 16 case files, ")


def test_new_class_without_its_topics_line_is_refused(cards: Path) -> None:
    for path in FICTION.glob("*.yaml"):
        shutil.copy(path, cards / "rules" / path.name)

    with pytest.raises(RuleSetInvalid, match=r"^cards/rules/FICTION\.yaml: id: 'FICTION' is not"):
        load_knowledge_base(cards)


def test_new_class_under_a_retired_id_is_refused(cards: Path) -> None:
    for path in FICTION.glob("*.yaml"):
        shutil.copy(path, cards / "rules" / path.name)
    add_topic(cards, "FICTION", "retired", "Used once, long ago")

    with pytest.raises(RuleSetInvalid, match=r"FICTION is retired in cards/topics\.yaml"):
        load_knowledge_base(cards)


def test_kb_check_when_new_class_shares_a_member_undeclared_lists_both_sides(
    cards: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _add_fiction(cards)
    edit_yaml(cards / "rules" / "FICTION.yaml", lambda data: _add_member(data, "lorazepam"))

    assert cli.main(["kb", "check", str(cards)]) == 1
    bzd_index = [m["name"] for m in read_yaml(cards / "rules" / "BZD.yaml")["members"]].index(
        "lorazepam"
    )
    assert capsys.readouterr().out.splitlines() == [
        f"cards/rules/BZD.yaml: members[{bzd_index}].name: 'lorazepam' is also a member of "
        "FICTION; if deliberate, list FICTION in its also_in (in both files)",
        SHARED_MESSAGE,
        "cards/rules/FICTION.yaml: members[1].rxcui: null differs from '6470', the rxcui of "
        "'lorazepam' in BZD: one ingredient has one code",
    ]


def test_load_when_new_class_shares_a_member_undeclared_raises(cards: Path) -> None:
    _add_fiction(cards)
    edit_yaml(cards / "rules" / "FICTION.yaml", lambda data: _add_member(data, "lorazepam"))

    with pytest.raises(RuleSetInvalid) as raised:
        load_knowledge_base(cards)

    assert SHARED_MESSAGE in str(raised.value).splitlines()


def test_load_when_shared_member_declared_on_both_sides_accepts_it(cards: Path) -> None:
    _add_fiction(cards)
    edit_yaml(
        cards / "rules" / "FICTION.yaml",
        lambda data: _add_member(data, "lorazepam", rxcui="6470", also_in=["BZD"]),
    )

    def declare(data: dict[str, Any]) -> None:
        (lorazepam,) = [m for m in data["members"] if m["name"] == "lorazepam"]
        lorazepam["also_in"] = ["FICTION"]

    edit_yaml(cards / "rules" / "BZD.yaml", declare)

    kb = load_knowledge_base(cards)

    assert "lorazepam" in {member.name for member in kb.rule("FICTION").members}
