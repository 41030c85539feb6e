"""The inspector's workbench in a real browser (Debian's headless Chromium, Selenium).

Copy as curl shows the API's command, Download HAR saves a HAR 1.2 file, Replay
reaches an allow-listed listener, Clear history empties the page and the store.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions

from tests.integration.conftest import MakeServer
from tests.integration.inspector.test_inspector_browser import (
    click_row,
    log_in,
    row_for,
    rows,
    until,
)
from tests.support import har
from tests.support.browser import chromium
from tests.support.listener import Listener
from tests.support.server import Server

TOKEN = "workbench-browser-token-3e9a"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def allowed() -> Iterator[Listener]:
    listener = Listener()
    yield listener
    listener.close()


@pytest.fixture(scope="module")
def live(make_module_server: MakeServer, allowed: Listener) -> Server:
    return make_module_server(
        {"ECHO_INSPECT_TOKEN": TOKEN, "ECHO_CALL_TARGETS": f"{allowed.url}/hooks/"}
    )


@pytest.fixture(scope="module")
def downloads() -> Iterator[Path]:
    directory = Path(tempfile.mkdtemp(prefix="echoscope-downloads-"))
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="module")
def browser(downloads: Path) -> Iterator[WebDriver]:
    with chromium() as chrome:
        chrome.execute_cdp_cmd(
            "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
        )
        yield chrome


def _downloaded(directory: Path, name: str, timeout: float = 10) -> Path:
    path = directory / name
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and not list(directory.glob("*.crdownload")):
            return path
        time.sleep(0.05)
    raise AssertionError(f"{name} not downloaded: {sorted(p.name for p in directory.iterdir())}")


def test_copy_download_replay_and_clear_in_the_browser(
    live: Server, browser: WebDriver, allowed: Listener, downloads: Path
) -> None:
    sent = requests.post(
        f"{live.url}/hooks-in/github?token=query-secret",
        json={"action": "opened"},
        headers={"X-GitHub-Event": "pull_request", "Authorization": "Bearer header-secret"},
        timeout=5,
    )
    uuid = sent.headers["X-Request-Id"]
    browser.get(f"{live.url}/_echoscope/")
    log_in(browser, TOKEN)
    until(browser, lambda b: b.find_element(By.ID, "state").text == "live")
    until(browser, lambda b: row_for(b, "/hooks-in/github"))
    click_row(browser, "/hooks-in/github")

    browser.find_element(By.ID, "copy-curl").click()
    shown = until(browser, lambda b: b.find_element(By.ID, "curl-command").text)
    command = requests.get(
        f"{live.url}/_echoscope/exchanges/{uuid}?format=curl", headers=AUTH, timeout=5
    ).text
    assert shown == command.strip()
    assert "sent as [REDACTED]: header Authorization, query token" in shown
    assert "header-secret" not in browser.page_source and "query-secret" not in browser.page_source

    browser.find_element(By.ID, "har-one").click()
    saved = json.loads(_downloaded(downloads, f"echoscope-{uuid}.har").read_text())
    har.validate(saved)
    assert [entry["_uuid"] for entry in saved["log"]["entries"]] == [uuid]

    browser.find_element(By.ID, "har-list").click()
    listed = json.loads(_downloaded(downloads, "echoscope-exchanges.har").read_text())
    har.validate(listed)
    assert uuid in {entry["_uuid"] for entry in listed["log"]["entries"]}

    before = len(allowed.received)
    browser.find_element(By.ID, "replay-url").send_keys(f"{allowed.url}/hooks/github")
    browser.find_element(By.ID, "replay").click()
    result = until(browser, lambda b: b.find_element(By.ID, "replay-result").text)
    assert result == f"POST {allowed.url}/hooks/github → 200"
    received = allowed.wait_for(before + 1)[-1]
    assert received.headers["x-github-event"] == "pull_request"
    assert until(browser, lambda b: "not sent (redacted): Authorization" in b.page_source)

    refused = browser.find_element(By.ID, "replay-url")
    refused.clear()
    refused.send_keys("http://127.0.0.1:9/elsewhere")
    browser.find_element(By.ID, "replay").click()
    error = until(
        browser, lambda b: b.find_element(By.CSS_SELECTOR, "#workbench-result .error").text
    )
    assert "not under ECHO_CALL_TARGETS" in error

    browser.find_element(By.ID, "clear-history").click()
    until(browser, expected_conditions.alert_is_present()).accept()
    until(browser, lambda b: not rows(b))
    kept = requests.get(f"{live.url}/_echoscope/exchanges", headers=AUTH, timeout=5).json()
    assert kept["exchanges"] == []
