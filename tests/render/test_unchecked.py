"""The unchecked-entries card: info, the data-gap topic, entries in the detail only, escaped, capped."""

from __future__ import annotations

from cds_service.render.profiles import build_profiles
from tests.card_checks import assert_card_follows_spec
from tests.pipeline import renderer


def test_unchecked_card_lists_entries_escaped_in_detail_only() -> None:
    card = renderer().unchecked_card(["[tea](http://x.example) *strong*", "Zorblax"])
    assert_card_follows_spec(card)
    assert (card.indicator, card.source.topic and card.source.topic.code) == ("info", "DATAGAP")
    assert card.summary == "2 medication list entries were not recognised and could not be checked"
    assert "- \\[tea\\]\\(http://x.example\\) \\*strong\\*" in (card.detail or "")
    assert "- Zorblax" in (card.detail or "")


def test_unchecked_card_when_many_entries_counts_the_rest() -> None:
    entries = [f"entry {n} " + "x" * 100 for n in range(12)]
    card = renderer().unchecked_card(entries, build_profiles()["epic"])
    detail = card.detail or ""
    assert "- and 2 more" in detail
    assert "entry 11" not in detail
    assert "x" * 100 not in detail  # each entry cut to one short line
