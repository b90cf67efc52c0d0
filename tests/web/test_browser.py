"""The served screen in a real headless Chromium, driven by Selenium through chromedriver:
"Online" read from the page, a mouse click on the footer, then ``r`` and ``q`` typed.

The terminal's text is read from the page itself: the xterm.js buffer the browser renders
(``buffer.active``), not from any output of ours. textual-serve keeps its terminal object to
itself, so a script run before the page's own (CDP ``addScriptToEvaluateOnNewDocument``)
notes every object that gets a ``terminal`` property assigned: the page's ``this.terminal =
new Terminal(...)`` then lands in ``window.__gwTerminals``. Nothing of this is in guildwatch.

The screenshot goes to the test's temporary directory; with ``GUILDWATCH_SCREENSHOT=PATH`` it
is written there too (``docs/browser.png`` in the README was made so).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.harness import RunningServer, wait_until
from tests.metrics.tools import need
from tests.web.support import GUILDS, children, serving

CAPTURE_TERMINAL = """
window.__gwTerminals = [];
Object.defineProperty(Object.prototype, "terminal", {
  configurable: true,
  set(value) {
    if (value && value.buffer) window.__gwTerminals.push(value);
    Object.defineProperty(this, "terminal", {
      value, writable: true, configurable: true, enumerable: true,
    });
  },
});
"""

READ_BUFFER = """
const terminal = (window.__gwTerminals || [])[0];
if (!terminal) return null;
const buffer = terminal.buffer.active;
const lines = [];
for (let row = 0; row < buffer.length; row++) {
  lines.push(buffer.getLine(row).translateToString(true));
}
return lines.join("\\n");
"""


CELL_SIZE = """
const terminal = window.__gwTerminals[0];
const rect = terminal.element.querySelector(".xterm-screen").getBoundingClientRect();
return [rect.width, rect.height, terminal.cols, terminal.rows];
"""


def _click_text(driver: webdriver.Chrome, text: str) -> None:
    """Click the middle of ``text``'s first cell run on the page's terminal, with the mouse."""
    rows = _screen(driver).split("\n")
    row = next(number for number, line in enumerate(rows) if text in line)
    column = rows[row].index(text) + len(text) // 2
    width, height, columns, lines = driver.execute_script(CELL_SIZE)
    cell_width, cell_height = width / columns, height / lines
    screen = driver.find_element(By.CSS_SELECTOR, ".xterm-screen")
    # Selenium 4 offsets are from the element's centre.
    x = (column + 0.5) * cell_width - width / 2
    y = (row + 0.5) * cell_height - height / 2
    ActionChains(driver).move_to_element_with_offset(screen, int(x), int(y)).click().perform()


@pytest.fixture
def chromium(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    binary = need("chromium", "chromium")
    driver_path = need("chromedriver", "chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in (
        "--headless=new",
        "--no-sandbox",  # tests run as root in CI containers
        "--disable-dev-shm-usage",
        "--window-size=1100,560",
        f"--user-data-dir={tmp_path / 'chromium'}",
    ):
        options.add_argument(argument)
    service = webdriver.ChromeService(executable_path=driver_path)
    driver = webdriver.Chrome(options=options, service=service)
    try:
        driver.execute_cdp_cmd(
            "Page.addScriptToEvaluateOnNewDocument", {"source": CAPTURE_TERMINAL}
        )
        yield driver
    finally:
        driver.quit()


def _screen(driver: webdriver.Chrome) -> str:
    text = driver.execute_script(READ_BUFFER)
    return text if isinstance(text, str) else ""


def _wait_for_screen(
    driver: webdriver.Chrome, predicate: Callable[[str], bool], timeout: float, what: str
) -> str:
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = _screen(driver)
        if predicate(text):
            return text
        time.sleep(0.1)
    raise AssertionError(f"the page's terminal never showed {what} in {timeout} s:\n{text}")


@pytest.mark.timeout(180)
def test_the_screen_in_chromium_shows_online_and_takes_the_mouse_r_and_q(
    chromium: webdriver.Chrome, real_server: RunningServer, home: Path, tmp_path: Path
) -> None:
    for guild in GUILDS:
        real_server.heartbeat(guild, version="2.4.1")
    with serving(real_server, home) as (process, url):
        chromium.get(url)
        assert real_server.token not in chromium.page_source
        screen = _wait_for_screen(
            chromium, lambda text: text.count("Online") >= len(GUILDS), 90, "two Online guilds"
        )
        assert "v2.4.1" in screen
        assert len(children(process.pid)) == 1
        screenshot = tmp_path / "browser.png"
        assert chromium.save_screenshot(str(screenshot))
        if target := os.environ.get("GUILDWATCH_SCREENSHOT"):
            shutil.copyfile(screenshot, target)
        # The mouse: a click on the footer's "? Help" opens the help screen; Esc closes it.
        _click_text(chromium, "? Help")
        _wait_for_screen(chromium, lambda text: "retry every down guild" in text, 30, "help")
        ActionChains(chromium).send_keys(Keys.ESCAPE).perform()
        _wait_for_screen(chromium, lambda text: "retry every down" not in text, 30, "no help")
        # Keys go where a person types: the terminal's element, focused by the click.
        ActionChains(chromium).send_keys("r").perform()
        _wait_for_screen(chromium, lambda text: "Nothing to retry" in text, 30, "r's answer")
        ActionChains(chromium).send_keys("q").perform()
        wait_until(lambda: children(process.pid) == [], 30, "the tab's process to end after q")
        wait_until(
            lambda: (
                "-closed"
                in (chromium.find_element(By.TAG_NAME, "body").get_attribute("class") or "")
            ),
            30,
            "the page to say the session ended",
        )
