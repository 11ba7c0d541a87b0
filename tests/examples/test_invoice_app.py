"""examples/invoice-app driven by headless Chromium against a real cluster:
an invoice PDF made, stored and downloaded through a pre-signed link (which
is refused once expired), and a receipt uploaded from the browser straight
to Tessera with a pre-signed POST (docs/cdn-and-apps.md)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from cli.local_cluster import LocalCluster, free_ports
from tests.integration.harness import s3_client
from tests.integration.http_plain import request

pytestmark = pytest.mark.integration

APP = Path(__file__).resolve().parents[2] / "examples" / "invoice-app" / "app.py"
BUCKET = "invoices"
WAIT_SECONDS = 30
START_SECONDS_MAX = 30.0


@pytest.fixture(scope="module")
def app_url(app_cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app, started the way its README says, against the cluster."""
    port = free_ports(1)[0]
    state = tmp_path_factory.mktemp("invoice-app")
    log = open(state / "app.log", "wb")
    process = subprocess.Popen(
        [sys.executable, str(APP), "--endpoint", app_cluster.endpoint,
         "--data-dir", str(app_cluster.data_dir), "--listen", f"127.0.0.1:{port}",
         "--state-dir", str(state)],
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + START_SECONDS_MAX
        while True:
            assert process.poll() is None, (state / "app.log").read_text()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "the app did not start"
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)
        log.close()


def wait(driver: Any) -> WebDriverWait[Any]:
    return WebDriverWait(driver, WAIT_SECONDS, poll_frequency=0.2)


def visible(driver: Any, css: str) -> Any:
    return wait(driver).until(ec.visibility_of_element_located((By.CSS_SELECTOR, css)))


def expires_at(url: str) -> float:
    """When a pre-signed URL stops working, from its own X-Amz-Date and -Expires."""
    query = parse_qs(urlsplit(url).query)
    signed = datetime.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    return signed.timestamp() + int(query["X-Amz-Expires"][0])


def test_invoice_pdf_through_a_presigned_link(
    app_cluster: LocalCluster, app_url: str, browser: Any, downloads: Path, artifacts: Path
) -> None:
    browser.get(f"{app_url}/invoices/new")
    visible(browser, "#customer").send_keys("ACME Robotics GmbH")
    for row, (what, quantity, price) in enumerate(
        [("Coffee beans 1kg", "2", "14.50"), ("Espresso cup", "6", "3.20")]
    ):
        browser.find_element(By.ID, f"description-{row}").send_keys(what)
        browser.find_element(By.ID, f"quantity-{row}").clear()
        browser.find_element(By.ID, f"quantity-{row}").send_keys(quantity)
        browser.find_element(By.ID, f"price-{row}").send_keys(price)
    browser.find_element(By.ID, "create").click()
    assert visible(browser, "#total").text == "48.20 EUR"
    number = browser.title.removeprefix("Invoice ")
    key = browser.find_element(By.ID, "key").text
    assert key.endswith(f"/{number}.pdf")
    browser.save_screenshot(str(artifacts / "invoice-page.png"))

    link = browser.find_element(By.ID, "download")
    url = link.get_attribute("href")
    assert app_cluster.credentials.secret_key not in url
    link.click()
    saved = downloads / f"{number}.pdf"
    wait(browser).until(lambda _: saved.exists() and saved.stat().st_size > 0)
    pdf = saved.read_bytes()
    assert pdf.startswith(b"%PDF-1.4") and pdf.rstrip().endswith(b"%%EOF")
    for text in (b"(Bill to: ACME Robotics GmbH)", f"(Number: {number})".encode(), b"(48.20 EUR)"):
        assert text in pdf
    s3 = s3_client(app_cluster)
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == pdf
    # The object is private: no link, no read. The link's answer is private
    # to the browser (no shared cache may keep it).
    assert request(app_cluster.layout.s3_port, "GET", f"/{BUCKET}/{key}").status == 403
    parts = urlsplit(url)
    answer = request(app_cluster.layout.s3_port, "GET", f"{parts.path}?{parts.query}")
    assert answer.status == 200 and answer.header("Cache-Control") == "private"

    # A short-lived link, once expired, is refused to the browser.
    browser.get(f"{app_url}/invoices/{number}?valid=1")
    short = visible(browser, "#download").get_attribute("href")
    time.sleep(max(0.0, expires_at(short) - time.time()) + 1.5)
    browser.get(short)
    wait(browser).until(lambda d: "AccessDenied" in d.page_source)
    assert "expired" in browser.page_source
    browser.save_screenshot(str(artifacts / "invoice-link-expired.png"))
    parts = urlsplit(short)
    assert request(app_cluster.layout.s3_port, "GET", f"{parts.path}?{parts.query}").status == 403


def test_receipt_uploaded_from_the_browser_with_a_presigned_post(
    app_cluster: LocalCluster, app_url: str, browser: Any, tmp_path: Path, artifacts: Path
) -> None:
    receipt = tmp_path / "receipt 42.txt"
    receipt.write_bytes(b"Paid 48.20 EUR, card ending 4242\n" * 300)
    browser.get(f"{app_url}/receipts")
    form = visible(browser, "#upload")
    action = form.get_attribute("action")
    assert urlsplit(action).port == app_cluster.layout.s3_port  # straight to Tessera
    browser.find_element(By.ID, "file").send_keys(str(receipt))
    browser.find_element(By.ID, "send").click()
    received = visible(browser, "#received")
    assert browser.current_url.startswith(f"{app_url}/receipts/received?")
    key = received.find_element(By.TAG_NAME, "code").text
    assert key.startswith("receipts/") and key.endswith("/receipt 42.txt")
    assert f"{receipt.stat().st_size} bytes" in received.text
    browser.save_screenshot(str(artifacts / "receipt-received.png"))
    s3 = s3_client(app_cluster)
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == receipt.read_bytes()
    browser.get(f"{app_url}/receipts")
    assert key in visible(browser, "#receipts").text
