"""The Snakemake report of the quick preset, opened in headless Chromium as a reader would.

The Snakemake 9 report is a single-page app: the menu lists one folder per report category
(the model, Configuration); a folder lists its results, each with an eye button (figures open
in the page, text files are data-URI links) and an info button (path, caption, rule).
Needs the Debian packages chromium and chromium-driver and the Python package selenium; without
them the tests skip, unless REQUIRE_BROWSER=1 (CI), where that is a failure.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from workflow_runner import quick_study, snakemake

from manifold_smoothness.targets import model_figures

pytestmark = [pytest.mark.workflow, pytest.mark.browser]
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
MODEL = quick_study()["models"][0]["name"]
FIGURES = model_figures(quick_study(), MODEL)  # the first quick model sweeps every attack
FIGURE_DIR = f"results/figures/mnist/{MODEL}"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1600,1000",
)
TIMEOUT = 30  # seconds for the 4 MB page and a click to render
# the plain text of a result's caption, as embedded in the report (HTML rendered from .rst)
CAPTION_TEXT = """
    const div = document.createElement('div');
    div.innerHTML = results[arguments[0]].caption || '';
    return div.textContent;
"""


def _missing_browser() -> str | None:
    """Why the browser tests cannot run here, or None."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]')"
    for path in (CHROMIUM, CHROMEDRIVER):
        if not path.is_file():
            return f"{path} is missing (apt-get install chromium chromium-driver)"
    return None


@pytest.fixture(scope="module")
def driver() -> Iterator:
    """Headless Chromium with its console log; Selenium Manager never runs (explicit paths)."""
    reason = _missing_browser()
    if reason is not None:
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(f"REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        browser = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
        try:
            yield browser
        finally:
            browser.quit()


@pytest.fixture(scope="module")
def report(driver, request) -> str:
    """file:// URL of the report of the session's quick-preset run (conftest.quick_run)."""
    # requested here, not as an argument: pytest would set up the session-scoped run before
    # `driver`, running the workflow even where the browser tests then skip
    quick_run = request.getfixturevalue("quick_run")
    snakemake(quick_run, "--configfile", "config/quick.yaml", "--report", "results/report.html")
    return (quick_run / "results" / "report.html").as_uri()


def open_folder(driver, report: str, folder: str) -> None:
    """Load the report afresh and open one result folder of its menu."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(report)
    link = (By.XPATH, f"//nav//a[normalize-space()='{folder}']")
    WebDriverWait(driver, TIMEOUT).until(ec.element_to_be_clickable(link)).click()


def result_buttons(driver, path: str) -> tuple:
    """(eye, info) buttons of one result in the open folder's table."""
    from selenium.webdriver.common.by import By

    row = driver.find_element(By.XPATH, f"//nav//tbody/tr[td[normalize-space()='{path}']]")
    eye, info = row.find_elements(By.TAG_NAME, "a")
    return eye, info


def shown_image_size(driver, name: str) -> tuple[int, int]:
    """Natural (width, height) of the figure `name` once the content pane shows it."""
    from selenium.webdriver.support.ui import WebDriverWait

    script = """
        const img = [...document.querySelectorAll('#app img')].find(
            i => i.src.includes(';filename=' + arguments[0] + ';'));
        return img && img.complete ? [img.naturalWidth, img.naturalHeight] : null;
    """
    return tuple(WebDriverWait(driver, TIMEOUT).until(lambda d: d.execute_script(script, name)))


def severe_console_entries(driver) -> list[dict]:
    """Console entries of level SEVERE since the last call (the log is drained on reading)."""
    return [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def test_every_figure_opens_as_an_image_of_nonzero_size(driver, report):
    open_folder(driver, report, MODEL)
    sizes = {}
    for figure in FIGURES:
        eye, _ = result_buttons(driver, f"{FIGURE_DIR}/{figure}.png")
        eye.click()
        sizes[figure] = shown_image_size(driver, f"{figure}.png")
    assert all(width > 100 and height > 100 for width, height in sizes.values()), sizes


def test_every_figure_shows_its_caption(driver, report):
    from selenium.webdriver.common.by import By

    shown = {}
    for figure in FIGURES:
        path = f"{FIGURE_DIR}/{figure}.png"
        open_folder(driver, report, MODEL)
        _, info = result_buttons(driver, path)
        info.click()
        panel = " ".join(driver.find_element(By.TAG_NAME, "nav").text.split())
        caption = " ".join(driver.execute_script(CAPTION_TEXT, path).split())
        shown[figure] = len(caption) > 100 and caption[:100] in panel
    assert all(shown.values()), shown


def test_the_claims_page_renders_inside_the_report(driver, report):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    open_folder(driver, report, "Claims")
    eye, _ = result_buttons(driver, "results/claims/mnist.html")
    eye.click()
    frame = (By.CSS_SELECTOR, "#app iframe")
    WebDriverWait(driver, TIMEOUT).until(ec.frame_to_be_available_and_switch_to_it(frame))
    try:
        headings = [h.text for h in driver.find_elements(By.TAG_NAME, "h2")]
        tables = driver.find_elements(By.TAG_NAME, "table")
    finally:
        driver.switch_to.default_content()
    assert all(any(h.startswith(f"Claim {n}") for h in headings) for n in (1, 2, 3)), headings
    assert len(tables) >= 3  # the Markdown tables became HTML tables


def test_the_config_is_readable_from_the_report(driver, report):
    open_folder(driver, report, "Configuration")
    eye, _ = result_buttons(driver, "results/config.yaml")
    driver.get(eye.get_attribute("href"))  # a data: URI; Chromium shows text as text
    config = driver.execute_script("return document.body.innerText")
    assert f"name: {MODEL}" in config and "fit_window" in config, config[:2000]


def test_clicking_through_the_report_logs_no_console_error(driver, report):
    severe_console_entries(driver)  # drop entries of earlier tests
    open_folder(driver, report, MODEL)
    for figure in FIGURES:
        eye, _ = result_buttons(driver, f"{FIGURE_DIR}/{figure}.png")
        eye.click()
        shown_image_size(driver, f"{figure}.png")
    for folder in ("Configuration", "Claims", MODEL):
        open_folder(driver, report, folder)
    assert severe_console_entries(driver) == []


def test_the_figure_across_networks_opens(driver, report):
    open_folder(driver, report, "Across networks")
    eye, _ = result_buttons(driver, "results/figures/mnist/generalization.png")
    eye.click()
    width, height = shown_image_size(driver, "generalization.png")
    assert width > 100 and height > 100
