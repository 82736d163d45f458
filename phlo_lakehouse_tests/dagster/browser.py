"""A real browser for the tests where a person would click: Debian's chromium, headless, driven
by selenium through Debian's chromedriver (both installed by scripts/system_deps.sh).

Each browser gets a fresh profile (``--user-data-dir`` in a temp dir) and the flags that keep
chromium from reaching out (no background networking, component updates, sync or QUIC).
Screenshots are kept as test artefacts under ``test-artifacts/browser/<test name>/`` (git
ignores the directory); a failing step leaves a ``failure.png`` there too.
"""

import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from phlo_lakehouse_tests.conftest import missing_service

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("PHLO_TEST_ARTIFACTS", REPO_ROOT / "test-artifacts")) / "browser"
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
INSTALL_HINT = "install them with `bash scripts/system_deps.sh` (Debian: chromium chromium-driver)"


def _binary(env: str, names: tuple[str, ...]) -> str | None:
    if os.environ.get(env):
        return os.environ[env]
    return next((found for name in names if (found := shutil.which(name))), None)


class Browser:
    """A page in chromium, with the few gestures the tests need."""

    def __init__(self, driver: Any, base_url: str, artifacts: Path) -> None:
        from selenium.webdriver.support.ui import WebDriverWait

        self.driver = driver
        self.base_url = base_url
        self.artifacts = artifacts
        self._wait = WebDriverWait
        self._shots = 0

    def open(self, path: str) -> None:
        """Load ``base_url + path``."""
        self.driver.get(self.base_url + path)

    def text(self) -> str:
        """The visible text of the page."""
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.TAG_NAME, "body").text

    def wait_until(self, what: str, predicate: Callable[[], Any], timeout: float = 30) -> Any:
        """Poll ``predicate`` until it returns something truthy (page re-renders included)."""
        from selenium.common.exceptions import StaleElementReferenceException, WebDriverException

        deadline = time.monotonic() + timeout
        while True:
            try:
                found = predicate()
                if found:
                    return found
            except (StaleElementReferenceException, WebDriverException):
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {what}")
            time.sleep(0.25)

    def wait_for_text(self, pattern: str, timeout: float = 30) -> re.Match:
        """Wait until the page text matches the regular expression ``pattern``."""
        return self.wait_until(
            f"text matching {pattern!r}", lambda: re.search(pattern, self.text()), timeout
        )

    def element(self, xpath: str, timeout: float = 30) -> Any:
        """The first displayed element at ``xpath``, once there is one."""
        from selenium.webdriver.common.by import By

        def shown() -> Any:
            return next(
                (e for e in self.driver.find_elements(By.XPATH, xpath) if e.is_displayed()), None
            )

        return self.wait_until(f"element {xpath}", shown, timeout)

    def click(self, xpath: str, timeout: float = 30) -> None:
        """Click the element at ``xpath`` (retried while the page re-renders)."""
        self.wait_until(
            f"clickable {xpath}", lambda: self.element(xpath, timeout).click() or True, timeout
        )

    def click_text(self, text: str, tag: str = "*", timeout: float = 30) -> None:
        """Click the ``tag`` whose text is exactly ``text`` (with ``*``: the innermost element)."""
        same = f"normalize-space()={_literal(text)}"
        innermost = f"[not(.//*[{same}])]" if tag == "*" else ""
        self.click(f"//{tag}[{same}]{innermost}", timeout)

    def dismiss(self, button: str, timeout: float = 5) -> bool:
        """Click ``button`` if a dialog shows it within ``timeout`` seconds."""
        try:
            self.click_text(button, "button", timeout)
        except AssertionError:
            return False
        return True

    def replace_word(self, line_xpath: str, old: str, new: str) -> None:
        """In an editor line, double-click the word ``old`` and type ``new`` over it."""
        from selenium.webdriver.common.action_chains import ActionChains

        def swap() -> bool:
            token = self.element(f"{line_xpath}//span[normalize-space()={_literal(old)}]", 5)
            ActionChains(self.driver).double_click(token).perform()
            ActionChains(self.driver).send_keys(new).perform()
            return True

        def typed() -> bool:
            return new in self.element(line_xpath).text.split()

        self.wait_until(f"{old!r} in {line_xpath}", swap)
        try:
            self.wait_until(f"{new!r} typed", typed, timeout=30)
        except AssertionError:
            # On a loaded machine the editor can drop the double-click's selection: once more,
            # only while the old word is still there untouched.
            if old not in self.element(line_xpath).text.split():
                raise
            self.wait_until(f"{old!r} in {line_xpath}", swap)
            self.wait_until(f"{new!r} typed", typed, timeout=30)

    def screenshot(self, name: str) -> Path:
        """Save the page as ``NN-name.png`` among the test's artefacts."""
        self._shots += 1
        path = self.artifacts / f"{self._shots:02d}-{name}.png"
        self.driver.save_screenshot(str(path))
        return path


def _literal(text: str) -> str:
    """``text`` as an XPath string literal."""
    if "'" not in text:
        return f"'{text}'"
    parts = text.split("'")
    return "concat(" + ', "\'", '.join(f"'{p}'" for p in parts) + ")"


@contextmanager
def chromium(base_url: str, test_name: str) -> Iterator[Browser]:
    """A headless chromium on ``base_url``; a missing chromium, chromedriver or selenium skips
    (fails under CI=true)."""
    chromium_bin = _binary("PHLO_CHROMIUM", ("chromium", "chromium-browser"))
    driver_bin = _binary("PHLO_CHROMEDRIVER", ("chromedriver",))
    if not chromium_bin or not driver_bin:
        missing_service(f"chromium and chromedriver are needed for browser tests: {INSTALL_HINT}")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        missing_service("selenium is not installed: make install (dev extras)")
    artifacts = ARTIFACTS / re.sub(r"[^A-Za-z0-9_.-]", "_", test_name)
    shutil.rmtree(artifacts, ignore_errors=True)
    artifacts.mkdir(parents=True)
    profile = tempfile.mkdtemp(prefix="phlo-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium_bin
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    # An explicit driver path: selenium's own driver manager (which downloads) never runs.
    driver = webdriver.Chrome(service=Service(executable_path=driver_bin), options=options)
    browser = Browser(driver, base_url, artifacts)
    try:
        yield browser
    except BaseException:
        browser.screenshot("failure")
        (artifacts / "failure.txt").write_text(f"{driver.current_url}\n\n{browser.text()}")
        raise
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
