"""The inspector's page in a real browser: Debian's headless Chromium, driven by Selenium.

The driver is Debian's chromedriver (`make tools` installs both); nothing is
downloaded. A missing browser fails the test: it never skips. The screenshot is
kept in tests/artifacts/ (ignored by git).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from tests.integration.conftest import MakeServer
from tests.support.browser import chromium
from tests.support.server import ROOT, Server

TOKEN = "browser-token-91d2"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
OTHER_TRACE_ID = "00f067aa0ba902b700f067aa0ba902b7"
ARTIFACTS = ROOT / "tests" / "artifacts"


@pytest.fixture(scope="module")
def live(make_module_server: MakeServer) -> Server:
    return make_module_server(
        {
            "ECHO_INSPECT_TOKEN": TOKEN,
            "ECHO_TRACE_URL_TEMPLATE": "http://localhost:16686/trace/{trace_id}",
        },
        workers=2,
    )


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    with chromium() as chrome:
        yield chrome


def until(browser: WebDriver, condition: Callable[[WebDriver], Any], timeout: float = 10) -> Any:
    """Wait for `condition`; the page re-renders its rows on every live exchange, so an
    element found a moment ago may be gone: that is a retry, not a failure."""
    wait = WebDriverWait(
        browser, timeout, poll_frequency=0.05, ignored_exceptions=[StaleElementReferenceException]
    )
    return wait.until(condition)


def rows(browser: WebDriver) -> list[WebElement]:
    return browser.find_elements(By.CSS_SELECTOR, "#exchanges tbody tr")


def row_for(browser: WebDriver, path: str) -> WebElement | None:
    """The row showing `path`, looked up in one query (no walk over rows a re-render may
    replace halfway)."""
    found = browser.find_elements(
        By.XPATH, f"//table[@id='exchanges']/tbody/tr[td[@class='path'][. = {xpath_literal(path)}]]"
    )
    return found[0] if found else None


def xpath_literal(text: str) -> str:
    if "'" not in text:
        return f"'{text}'"
    parts = text.split("'")
    return "concat(" + ', "\'", '.join(f"'{part}'" for part in parts) + ")"


def click_row(browser: WebDriver, path: str) -> None:
    def clicked(b: WebDriver) -> bool:
        row = row_for(b, path)
        if row is None:
            return False
        row.click()
        return True

    until(browser, clicked)


def send(live: Server, path: str, trace_id: str, **headers: str) -> str:
    traceparent = f"00-{trace_id}-b7ad6b7169203331-01"
    response = requests.get(
        f"{live.url}{path}", headers={"traceparent": traceparent, **headers}, timeout=5
    )
    return response.headers["X-Request-Id"]


def log_in(browser: WebDriver, token: str) -> None:
    field = until(browser, lambda b: b.find_element(By.ID, "token"))
    field.clear()
    field.send_keys(token)
    browser.find_element(By.CSS_SELECTOR, "#login button[type=submit]").click()


def test_the_page_shows_exchanges_live_filters_and_details(
    live: Server, browser: WebDriver
) -> None:
    browser.get(f"{live.url}/_echoscope/")
    log_in(browser, "not-the-token")
    refused = until(browser, lambda b: b.find_element(By.ID, "login-error").text)
    assert refused == "the token was refused"

    log_in(browser, TOKEN)
    until(browser, lambda b: b.find_element(By.ID, "state").text == "live")

    send(live, "/orders/42?token=query-secret&page=2", TRACE_ID,
         **{"X-Probe": "seen-in-the-browser", "Authorization": "Bearer header-secret"})  # fmt: skip
    send(live, "/other/7", OTHER_TRACE_ID)
    hostile = "/<img src=x onerror=alert(1)>"
    send(live, hostile, OTHER_TRACE_ID, **{"X-Html": "<script>alert(2)</script>"})
    until(browser, lambda b: row_for(b, "/orders/42") and row_for(b, "/other/7"))
    until(browser, lambda b: row_for(b, hostile))  # shown as text, never as markup
    assert browser.find_elements(By.CSS_SELECTOR, "#exchanges img") == []

    trace_filter = browser.find_element(By.NAME, "trace_id")
    trace_filter.send_keys(TRACE_ID)
    browser.find_element(By.CSS_SELECTOR, "#filters button[type=submit]").click()
    until(browser, lambda b: len(rows(b)) == 1 and row_for(b, "/orders/42"))
    shown_trace = until(
        browser, lambda b: rows(b)[0].find_element(By.CSS_SELECTOR, "td.trace").text
    )
    assert shown_trace == TRACE_ID

    click_row(browser, "/orders/42")
    detail = until(browser, lambda b: b.find_element(By.ID, "detail"))
    until(browser, lambda b: "seen-in-the-browser" in detail.text)
    assert "[REDACTED]" in detail.text
    trace_link = detail.find_element(By.LINK_TEXT, "Open the trace")
    assert trace_link.get_attribute("href") == f"http://localhost:16686/trace/{TRACE_ID}"
    page = browser.page_source
    assert "header-secret" not in page and "query-secret" not in page

    ARTIFACTS.mkdir(exist_ok=True)
    assert browser.save_screenshot(str(ARTIFACTS / "inspector.png"))
    assert (ARTIFACTS / "inspector.png").stat().st_size > 10_000


def test_the_token_is_kept_for_the_tab_and_forgotten_on_request(
    live: Server, browser: WebDriver
) -> None:
    browser.get(f"{live.url}/_echoscope/")  # same tab: sessionStorage still has the token
    until(browser, lambda b: b.find_element(By.ID, "state").text == "live")
    browser.find_element(By.ID, "forget").click()
    until(browser, lambda b: b.find_element(By.ID, "login").is_displayed())
    stored = browser.execute_script("return sessionStorage.length")
    assert stored == 0


def test_the_page_loads_nothing_from_elsewhere() -> None:
    for name in ("index.html", "inspector.css"):
        text = (ROOT / "service" / "inspector" / "ui" / name).read_text()
        assert "http:" not in text and "https:" not in text and "url(" not in text
