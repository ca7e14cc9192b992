"""The report of a tiny study, opened from disk in headless Chromium."""

import os
import shutil
from pathlib import Path

import pytest

from rnnscope.report import SECTIONS, build_report
from rnnscope.study import StudySpec, load, run_study

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    spec = StudySpec.model_validate(
        {"grid": {"architectures": ["gru", "vanilla"], "hidden_sizes": [8], "seeds": 2},
         "train": {"max_steps": 200, "batch_size": 16, "eval_every": 25},
         "task": {"options": {"bits": 2, "steps": 30}}, "fixed_points": {"candidates": 64},
         "probe": {"batch_size": 16}}
    )  # fmt: skip
    root = tmp_path_factory.mktemp("study") / "s"
    run_study(spec, root).close()
    with load(root) as study:
        return build_report(study)[0]


def test_report_files(report):
    assert report.exists()
    text = report.read_text()
    for section in SECTIONS:
        assert f'id="{section}"' in text
    assert "https://" not in text.split("<script")[0]  # no external resources before scripts
    figures = list((report.parent / "figures").glob("*.png"))
    assert figures and len(figures) == len(list((report.parent / "figures").glob("*.svg")))


def test_report_in_a_real_browser(report):
    browser_path = chromium()
    if browser_path is None:
        if os.environ.get("RNNSCOPE_REQUIRE_BROWSER"):
            pytest.fail("Chromium is required here (RNNSCOPE_REQUIRE_BROWSER) but was not found.")
        pytest.skip("Chromium not installed (apt-get install chromium); .ci/run installs it.")
    playwright = pytest.importorskip("playwright.sync_api")
    errors = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=browser_path,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--no-first-run", "--disable-sync"],
        )  # fmt: skip
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(report.as_uri())
        page.wait_for_load_state("load")
        for section in SECTIONS:
            assert page.locator(f"section#{section}").count() == 1, section
            rendered = page.evaluate(
                """id => {
                    const s = document.getElementById(id);
                    const imgs = [...s.querySelectorAll('img')].filter(i => i.complete && i.naturalWidth > 0);
                    const plots = s.querySelectorAll('.js-plotly-plot .main-svg');
                    return imgs.length + plots.length;
                }""",
                section,
            )
            assert rendered >= 1, f"no rendered figure in section {section}"
        assert page.locator(".js-plotly-plot").count() >= 1  # interactive maps drew
        # the table sorts on a header click
        page.locator("table.sortable th", has_text="accuracy").click()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
        browser.close()
    assert errors == []
    assert (ARTIFACTS / "report.png").stat().st_size > 10_000
