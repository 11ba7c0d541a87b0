"""The console in headless Chromium against a real cluster: sign in, see six
nodes in three zones, browse, upload and download through the page, kill a
node and watch it go down. Screenshots: test-artifacts/console/*.png.

The tests run in file order and share one browser and one cluster; each
signs in again if it finds the sign-in form.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from cli.local_cluster import LocalCluster
from tests.console.console_http import ConsoleHttp, console_url
from tests.integration.harness import s3_client

pytestmark = pytest.mark.integration

WAIT_SECONDS = 20
BUCKET = f"console-{uuid.uuid4().hex[:8]}"
UPLOAD_BYTES = b"uploaded through the console\n" * 2000 + bytes(range(256)) * 40
KILLED = "node-c2"


# chromedriver's report of an element detached between its lookup and a read
# (e.g. isDisplayed while the page swaps the sign-in form for the app): a
# generic WebDriverException, not StaleElementReferenceException.
DETACHED_NODE = "does not belong to the document"


class Wait:
    """WebDriverWait whose conditions treat an element that went away while
    being read as "not yet": the page redraws its panels every poll, so an
    element found a moment ago may be gone (stale, or detached) when read."""

    def __init__(self, driver: Any, seconds: float) -> None:
        self._wait: WebDriverWait[Any] = WebDriverWait(
            driver,
            seconds,
            poll_frequency=0.2,
            ignored_exceptions=(StaleElementReferenceException,),
        )

    def until(self, condition: Callable[[Any], Any]) -> Any:
        def tolerant(driver: Any) -> Any:
            try:
                return condition(driver)
            except WebDriverException as exc:
                if DETACHED_NODE in str(exc):
                    return False
                raise

        return self._wait.until(tolerant)


def wait(driver: Any, seconds: float = WAIT_SECONDS) -> Wait:
    return Wait(driver, seconds)


def visible(driver: Any, css: str) -> Any:
    return wait(driver).until(ec.visibility_of_element_located((By.CSS_SELECTOR, css)))


def shot(driver: Any, artifacts: Path, name: str) -> None:
    driver.save_screenshot(str(artifacts / f"{name}.png"))


def sign_in(driver: Any, cluster: LocalCluster, secret: str | None = None) -> None:
    driver.get(console_url(cluster))
    visible(driver, "#access-key").send_keys(cluster.credentials.access_key)
    driver.find_element(By.ID, "secret-key").send_keys(secret or cluster.credentials.secret_key)
    driver.find_element(By.ID, "signin-button").click()


def ensure_signed_in(driver: Any, cluster: LocalCluster) -> None:
    driver.get(console_url(cluster))
    wait(driver).until(
        lambda d: (
            d.find_element(By.ID, "app").is_displayed()
            or d.find_element(By.ID, "signin").is_displayed()
        )
    )
    if driver.find_element(By.ID, "signin").is_displayed():
        sign_in(driver, cluster)
        visible(driver, "#app")


def test_sign_in(console_cluster: LocalCluster, browser: Any, artifacts: Path) -> None:
    sign_in(browser, console_cluster, secret="not-the-secret")
    message = visible(browser, "#signin-message")
    assert "Sign-in failed" in message.text
    shot(browser, artifacts, "01-signin-failed")

    sign_in(browser, console_cluster)
    visible(browser, "#app")
    assert browser.find_element(By.ID, "who-key").text == console_cluster.credentials.access_key
    # The session cookie is HttpOnly: the page's script cannot read it; and the
    # secret is nowhere in the page.
    assert "tessera_console" not in browser.execute_script("return document.cookie")
    assert console_cluster.credentials.secret_key not in browser.page_source
    assert browser.find_element(By.ID, "secret-key").get_attribute("value") == ""


def test_six_nodes_in_three_zones(
    console_cluster: LocalCluster, browser: Any, artifacts: Path
) -> None:
    ensure_signed_in(browser, console_cluster)
    wait(browser).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".node")) == 6)
    zones = browser.find_elements(By.CSS_SELECTOR, ".zone")
    assert sorted(z.get_attribute("data-zone") for z in zones) == ["zone-a", "zone-b", "zone-c"]
    for zone in zones:
        assert len(zone.find_elements(By.CSS_SELECTOR, ".node")) == 2
    wait(browser).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".node.state-up")) == 6)
    assert browser.find_element(By.CSS_SELECTOR, "#tile-nodes .tile-value").text == "6 / 6"
    # The repair, margin and metadata panels show what metadata reports.
    wait(browser).until(lambda d: panel_fact(d, "repair", "queue_shards") == "0")
    wait(browser).until(lambda d: "metadata-1" in d.find_element(By.ID, "panel-metadata").text)
    wait(browser).until(
        lambda d: "shard sets by margin" in d.find_element(By.ID, "panel-margins").text
    )
    wait(browser).until(
        lambda d: "req/s" in d.find_element(By.ID, "panel-requests").text
    )  # rates appear once two readings exist
    shot(browser, artifacts, "02-cluster")


def test_browse_upload_download_and_link(
    console_cluster: LocalCluster,
    browser: Any,
    artifacts: Path,
    downloads: Path,
    tmp_path: Path,
) -> None:
    s3 = s3_client(console_cluster)
    ensure_signed_in(browser, console_cluster)
    browser.find_element(By.ID, "nav-buckets").click()
    visible(browser, "#new-bucket-name").send_keys(BUCKET)
    browser.find_element(By.CSS_SELECTOR, "#create-bucket button").click()
    link = visible(browser, f"tr[data-bucket='{BUCKET}'] a.bucket-link")
    assert "private" in browser.find_element(By.CSS_SELECTOR, f"tr[data-bucket='{BUCKET}']").text
    s3.put_object(Bucket=BUCKET, Key="reports/2026/q1.csv", Body=b"quarter,total\nq1,42\n")
    shot(browser, artifacts, "03-buckets")

    # Folders: reports/ -> 2026/ -> the object.
    link.click()
    visible(browser, "tr.folder[data-prefix='reports/'] a").click()
    visible(browser, "tr.folder[data-prefix='reports/2026/'] a").click()
    visible(browser, "tr.object[data-key='reports/2026/q1.csv']")
    assert "reports" in browser.find_element(By.ID, "crumbs").text
    browser.find_element(By.CSS_SELECTOR, "#crumbs a.crumb-bucket").click()
    visible(browser, "tr.folder[data-prefix='reports/']").find_element(By.TAG_NAME, "a").click()

    # Upload into reports/ through the page (a pre-signed PUT straight to S3).
    source = tmp_path / "hello console.bin"
    source.write_bytes(UPLOAD_BYTES)
    browser.find_element(By.ID, "upload-input").send_keys(str(source))
    row = visible(browser, "tr.object[data-key='reports/hello console.bin']")
    assert s3.get_object(Bucket=BUCKET, Key="reports/hello console.bin")["Body"].read() == (
        UPLOAD_BYTES
    )
    shot(browser, artifacts, "04-uploaded")

    # Download through the page: the browser saves the file.
    row.find_element(By.CSS_SELECTOR, "button.download").click()
    saved = downloads / "hello console.bin"
    wait(browser).until(lambda _: saved.exists() and saved.stat().st_size == len(UPLOAD_BYTES))
    assert saved.read_bytes() == UPLOAD_BYTES

    # Copy link: a pre-signed GET anyone can fetch.
    row.find_element(By.CSS_SELECTOR, "button.copy-link").click()
    wait(browser).until(lambda d: d.find_element(By.ID, "link-url").get_attribute("value"))
    url = browser.find_element(By.ID, "link-url").get_attribute("value")
    assert console_cluster.credentials.secret_key not in url
    with urllib.request.urlopen(url, timeout=30) as response:
        assert response.read() == UPLOAD_BYTES
    browser.find_element(By.ID, "link-copy").click()
    wait(browser).until(lambda d: d.find_element(By.ID, "link-status").text)
    shot(browser, artifacts, "05-link")
    browser.find_element(By.ID, "link-close").click()

    # Details: where the shards are, the margin, and the one version a bucket
    # that never had versioning keeps.
    row.find_element(By.CSS_SELECTOR, "button.info").click()
    margin = visible(browser, "#object-margin")
    assert margin.text.startswith("Margin 2 of 2")
    assert visible(browser, "#versioning-status").text == "Versioning: Disabled"
    assert len(browser.find_elements(By.CSS_SELECTOR, "#versions tr.version")) == 1
    shot(browser, artifacts, "06-details")
    assert console_cluster.credentials.secret_key not in browser.page_source


def test_api_on_a_real_cluster_never_returns_a_secret(console_cluster: LocalCluster) -> None:
    console = ConsoleHttp(console_cluster)
    console.sign_in(console_cluster)
    quoted = urllib.parse.quote
    key = "reports/hello console.bin"
    for path in (
        "/",
        "/static/console.js",
        "/static/console.css",
        "/api/session",
        "/api/cluster",
        "/api/buckets",
        f"/api/buckets/{BUCKET}/objects?prefix=reports/",
        f"/api/buckets/{BUCKET}/object?key={quoted(key)}",
        f"/api/buckets/{BUCKET}/access",
        f"/api/buckets/{BUCKET}/versions?key={quoted(key)}",
    ):
        status, _ = console.call("GET", path)
        assert status == 200, path
    for action in ("upload-url", "download-url"):
        status, result = console.call("POST", f"/api/buckets/{BUCKET}/{action}", {"key": key})
        assert status == 200 and result["url"].startswith("http://127.0.0.1:")
    status, result = console.call("PUT", f"/api/buckets/{BUCKET}/access", {"public": True})
    assert status == 200 and result["public"] is True
    assert s3_client(console_cluster).get_bucket_policy(Bucket=BUCKET)["Policy"]
    status, result = console.call("PUT", f"/api/buckets/{BUCKET}/access", {"public": False})
    assert status == 200 and result["public"] is False
    status, _ = console.call("GET", "/api/buckets/no-such-bucket-here/objects")
    assert status == 404
    for secret in (
        console_cluster.credentials.secret_key,
        console_cluster.credentials.cluster_secret,
    ):
        for text in console.seen:
            assert secret not in text


def test_cors_only_for_the_origin_a_signature_names(console_cluster: LocalCluster) -> None:
    console = ConsoleHttp(console_cluster)
    console.sign_in(console_cluster)
    origin = f"http://127.0.0.1:{console_cluster.layout.admin_port}"
    status, minted = console.call(
        "POST", f"/api/buckets/{BUCKET}/upload-url", {"key": "cors.txt"}, {"Origin": origin}
    )
    assert status == 200
    url = minted["url"]

    def s3(method: str, target: str, headers: dict[str, str], data: bytes | None = None) -> Any:
        request = urllib.request.Request(target, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.headers
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers

    asks = {
        "Access-Control-Request-Method": "PUT",
        "Access-Control-Request-Headers": "content-type",
    }
    status, headers = s3("OPTIONS", url, {"Origin": origin, **asks})
    assert status == 200 and headers["Access-Control-Allow-Origin"] == origin
    assert headers["Access-Control-Allow-Methods"] == "PUT"
    assert "Access-Control-Allow-Credentials" not in headers
    status, headers = s3("OPTIONS", url, {"Origin": "http://evil.example", **asks})
    assert status == 403 and "Access-Control-Allow-Origin" not in headers
    get_asks = {**asks, "Access-Control-Request-Method": "GET"}
    status, headers = s3("OPTIONS", url, {"Origin": origin, **get_asks})
    assert status == 403  # signed for PUT only
    status, headers = s3("PUT", url, {"Origin": origin}, b"cross-origin body")
    assert status == 200 and headers["Access-Control-Allow-Origin"] == origin
    # A URL signed without an origin (any SDK's) gets no CORS at all.
    plain = s3_client(console_cluster).generate_presigned_url(
        "put_object", Params={"Bucket": BUCKET, "Key": "cors.txt"}, ExpiresIn=60
    )
    status, headers = s3("OPTIONS", plain, {"Origin": origin, **asks})
    assert status == 403 and "Access-Control-Allow-Origin" not in headers


def test_versions_view_downloads_an_older_version(
    console_cluster: LocalCluster, browser: Any, artifacts: Path, downloads: Path
) -> None:
    s3 = s3_client(console_cluster)
    bucket = f"console-ver-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    first = s3.put_object(Bucket=bucket, Key="notes.txt", Body=b"first draft\n")["VersionId"]
    s3.put_object(Bucket=bucket, Key="notes.txt", Body=b"second draft, longer\n")
    ensure_signed_in(browser, console_cluster)
    browser.get(console_url(console_cluster) + f"#/b/{bucket}/")
    row = visible(browser, "tr.object[data-key='notes.txt']")
    row.find_element(By.CSS_SELECTOR, "button.info").click()
    assert visible(browser, "#versioning-status").text == "Versioning: Enabled"
    rows = browser.find_elements(By.CSS_SELECTOR, "#versions tr.version")
    assert [r.get_attribute("data-version") for r in rows][1] == first
    assert "(latest)" in rows[0].text and "(latest)" not in rows[1].text
    shot(browser, artifacts, "06b-versions")
    rows[1].find_element(By.CSS_SELECTOR, "button.download-version").click()
    saved = downloads / "notes.txt"
    wait(browser).until(lambda _: saved.exists() and saved.stat().st_size == len(b"first draft\n"))
    assert saved.read_bytes() == b"first draft\n"


def panel_fact(browser: Any, panel: str, key: str) -> str:
    """The value shown for key in a panel's facts table ('' when absent)."""
    cells = browser.find_elements(By.CSS_SELECTOR, f"#panel-{panel} tr[data-key='{key}'] > td")
    return str(cells[0].text) if cells else ""


def test_killed_node_goes_down(
    console_cluster: LocalCluster, browser: Any, artifacts: Path
) -> None:
    ensure_signed_in(browser, console_cluster)
    browser.find_element(By.ID, "nav-cluster").click()
    wait(browser).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".node.state-up")) == 6)
    console_cluster.kill(KILLED)
    started = time.monotonic()
    # No reload: the page polls. The metadata service marks the node down after
    # its grace period; the gateway's map and then the page follow.
    visible(browser, f".node[data-node-id='{KILLED}'][data-state='down']")
    assert browser.find_element(By.CSS_SELECTOR, "#tile-nodes .tile-value").text == "5 / 6"
    print(f"{KILLED} shown down {time.monotonic() - started:.1f} s after the kill")
    # The repair queue rises: every shard the killed node held is queued (with
    # 4+2 on six nodes there is no seventh node to rebuild onto, so they wait
    # there as blocked until the node returns or one is added).
    wait(browser).until(lambda d: panel_fact(d, "repair", "queue_shards") not in ("", "0"))
    shot(browser, artifacts, "07-node-down")

    # One object's margin follows: a shard on the killed node no longer counts.
    browser.get(console_url(console_cluster) + f"#/b/{BUCKET}/reports%2F")
    row = visible(browser, "tr.object[data-key='reports/hello console.bin']")
    row.find_element(By.CSS_SELECTOR, "button.info").click()
    margin = visible(browser, "#object-margin").text
    lost = sum(
        1
        for cell in browser.find_elements(By.CSS_SELECTOR, "#details table.mini td.mono")
        if cell.text == KILLED
    )
    assert margin.startswith(f"Margin {2 - lost} of 2"), (margin, lost)
    shot(browser, artifacts, "08-object-after-kill")


def test_wait_treats_a_detached_element_as_not_yet() -> None:
    """The waits above go on through chromedriver's "does not belong to the
    document" (an element detached while read), and fail on any other error."""
    seen: list[int] = []

    def detached_twice(_: Any) -> bool:
        seen.append(1)
        if len(seen) <= 2:
            raise WebDriverException(
                "unknown error: unhandled inspector error: "
                '{"code":-32000,"message":"Node with given id does not belong to the document"}'
            )
        return True

    assert Wait(object(), 5).until(detached_twice) is True
    assert len(seen) == 3

    def broken(_: Any) -> bool:
        raise WebDriverException("unknown error: session deleted because of page crash")

    with pytest.raises(WebDriverException, match="page crash"):
        Wait(object(), 5).until(broken)
