"""A real browser on the real server: headless Debian chromium, driven by Playwright, logs in and reads
the analytics page of seeded feedback; the chart is drawn and the flagged rule shown. One page sequence.

Skipped, with the reason, only when chromium is absent locally; ``CDS_TEST_REQUIRE_BROWSER=1`` (set by
``.ci/run``) turns that into a failure. Never ``playwright install``: the browser is Debian's.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.console.conftest import TOKEN, versions
from tests.console.seed import seed_url
from tests.integration.processes import REPO, ServiceProcess, serving

pytestmark = pytest.mark.integration
CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def _artifacts() -> Path:
    folder = Path(os.environ.get("CDS_TEST_ARTIFACTS", REPO / ".cache" / "artifacts"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def browser_path() -> Path:
    if CHROMIUM.exists():
        return CHROMIUM
    reason = f"no chromium at {CHROMIUM} (apt-get install -y chromium)"
    if os.environ.get("CDS_TEST_REQUIRE_BROWSER") == "1":
        pytest.fail(f"CDS_TEST_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    work = tmp_path_factory.mktemp("browser")
    seed_url(f"sqlite:///{work / 'console-data' / 'cds.db'}", versions())
    with serving(work, "console", CDS_CONSOLE="on", CDS_CONSOLE_TOKEN=TOKEN) as service:
        yield service


def test_browser_logs_in_and_sees_the_trend_chart_and_the_flagged_rule(
    browser_path: Path, server: ServiceProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    from playwright.sync_api import sync_playwright

    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(browser_path), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.goto(f"{server.base}/console/login")
            page.get_by_label("Console token").fill(TOKEN)
            page.get_by_role("button", name="Log in").click()
            page.wait_for_url("**/console/analytics")
            page.wait_for_selector("#trend-chart[data-points]")
            drawn = page.evaluate(
                """() => {
                  const canvas = document.getElementById("trend-chart");
                  const chart = Chart.getChart(canvas);
                  const pixels = canvas.getContext("2d")
                    .getImageData(0, 0, canvas.width, canvas.height).data;
                  let inked = 0;
                  for (let i = 3; i < pixels.length; i += 4) { if (pixels[i] > 0) inked++; }
                  return {
                    series: chart.data.datasets.map(d => [d.label, d.data]),
                    points: chart.getDatasetMeta(0).data.length,
                    inked: inked,
                    bars: document.querySelectorAll("canvas[data-reasons][data-points]").length,
                  };
                }"""
            )
            flag = page.locator('article.flag[data-topic="BZD"]')
            flag_text = flag.inner_text()
            shot = _artifacts() / "console-analytics.png"
            page.screenshot(path=str(shot), full_page=True)
            with capsys.disabled():  # shown in the run's output, not only on failure
                print(f"\nconsole screenshot: {shot}")
        finally:
            browser.close()
    bzd, ltg = (f"{topic} v{versions()[topic]}" for topic in ("BZD", "LTG"))
    assert drawn["series"] == [[bzd, [90, 95, 100]], [ltg, [None, 50, 50]]]
    assert drawn["points"] == 3
    assert drawn["inked"] > 1000  # the canvas holds a drawing, not only its data
    assert drawn["bars"] == 2  # a bar chart of reasons per rule version with overrides
    assert "Tighten the members" in flag_text
    assert "57 of 60 cards with feedback overridden (95.0 %)" in flag_text
    assert problems == []  # no script error, no CSP refusal, no missing asset
