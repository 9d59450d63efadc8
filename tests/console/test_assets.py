"""What the console ships in the package: the vendored chart library with its licences, templates, and
the HL7 displays the analytics need for every HL7 code a rule offers."""

from __future__ import annotations

import hashlib
import re
from importlib.resources import files

from cds_service.console import codes
from cds_service.console.pages import ASSETS, PUBLIC_ASSETS, asset
from tests.pipeline import knowledge_base

CHART_JS_SHA256 = "87364cc2b2a76a6684929e7d6b80b18a897794db38400caff1fcf1791c6925d2"


def test_vendored_chart_js_is_the_recorded_release_with_its_licences() -> None:
    library = asset("vendor/chart.umd.min.js")
    assert hashlib.sha256(library).hexdigest() == CHART_JS_SHA256
    assert library.startswith(b"/*!\n * Chart.js v4.6.1")
    readme = (files("cds_service.console") / "static" / "vendor" / "README.md").read_text("utf-8")
    assert CHART_JS_SHA256 in readme
    for licence in ("vendor/LICENSE-chart.js.md", "vendor/LICENSE-kurkle-color.md"):
        assert asset(licence).startswith(b"The MIT License")
    # Inlined in the offline report: it must never close the script element it sits in.
    assert b"</script" not in library.lower()


def test_every_listed_asset_is_in_the_package_and_the_public_ones_are_listed() -> None:
    for name in ASSETS:
        assert asset(name)
    assert PUBLIC_ASSETS <= ASSETS.keys()


def test_charts_script_loads_nothing_from_the_network() -> None:
    script = asset("charts.js").decode("utf-8")
    assert not re.search(r"https?://", script)
    assert "fetch(" not in script
    assert "XMLHttpRequest" not in script


def test_every_hl7_reason_a_rule_offers_has_its_hl7_display() -> None:
    offered = {
        reason.code
        for rule in knowledge_base().rules
        for reason in rule.override_reasons
        if reason.system == codes.SYSTEM
    }
    assert offered
    assert sorted(offered - codes.DISPLAYS.keys()) == []
    assert len(codes.DISPLAYS) == 35
    assert codes.CATEGORIES <= codes.DISPLAYS.keys()
