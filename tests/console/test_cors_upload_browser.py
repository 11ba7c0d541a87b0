"""A page from another origin uploads to a bucket with CORS rules, in headless
Chromium against a real cluster: a file chosen in an <input type=file> goes up
through a pre-signed POST form (fetch of the form's FormData) and through a
pre-signed PUT (fetch), then the page downloads both through pre-signed GETs
and reports their SHA-256, which must be the file's. The same PUT to a bucket
without CORS rules must be blocked by the browser.

The page is self-contained: served from 127.0.0.1 on a port of its own (so
its origin differs from the S3 endpoint's only by port, which is enough for
the browser to apply CORS), with the signed URLs the test made embedded.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from cli.local_cluster import LocalCluster

pytestmark = pytest.mark.integration

MiB = 1024 * 1024
FILE_BYTES = 3 * MiB + 4321  # more than one stripe
WAIT_SECONDS = 60

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>cross-origin upload</title></head>
<body>
<form id="post-form" enctype="multipart/form-data">
  <span id="post-fields"></span>
  <input type="file" id="file" name="file">
</form>
<button id="go">upload</button>
<pre id="result"></pre>
<script>
const config = __CONFIG__;
const fields = document.getElementById("post-fields");
for (const [name, value] of Object.entries(config.post.fields)) {
  const input = document.createElement("input");
  input.type = "hidden"; input.name = name; input.value = value;
  fields.appendChild(input);
}
async function sha256(buffer) {
  const digest = await crypto.subtle.digest("SHA-256", buffer);
  return Array.from(new Uint8Array(digest)).map(b => b.toString(16).padStart(2, "0")).join("");
}
async function download(url) {
  const response = await fetch(url);
  const body = await response.arrayBuffer();
  return {status: response.status, bytes: body.byteLength, sha256: await sha256(body)};
}
document.getElementById("go").addEventListener("click", async () => {
  const result = {origin: location.origin};
  try {
    // The form's FormData: policy fields first, the file last, as S3 wants.
    const form = new FormData(document.getElementById("post-form"));
    const posted = await fetch(config.post.url, {method: "POST", body: form});
    result.post = {status: posted.status, etag: posted.headers.get("ETag")};
    const file = document.getElementById("file").files[0];
    const put = await fetch(config.put_url, {
      method: "PUT", body: file, headers: {"Content-Type": "application/octet-stream"},
    });
    result.put = {status: put.status, etag: put.headers.get("ETag")};
    result.posted_download = await download(config.posted_get_url);
    result.put_download = await download(config.put_get_url);
    try {
      await fetch(config.no_cors_put_url, {
        method: "PUT", body: file, headers: {"Content-Type": "application/octet-stream"},
      });
      result.no_cors = "allowed";
    } catch (error) {
      result.no_cors = "blocked: " + error.name;
    }
  } catch (error) {
    result.error = String(error);
  }
  document.getElementById("result").textContent = JSON.stringify(result);
});
</script>
</body></html>
"""


class _PageServer:
    """Serves one HTML page on 127.0.0.1, on a free port, from a thread."""

    def __init__(self) -> None:
        self.html = b""
        page = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(page.html)))
                self.end_headers()
                self.wfile.write(page.html)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture(scope="module")
def page_server() -> Iterator[_PageServer]:
    server = _PageServer()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


def signer(cluster: LocalCluster):  # type: ignore[no-untyped-def]
    return boto3.client(
        "s3",
        endpoint_url=cluster.endpoint,
        aws_access_key_id=cluster.credentials.access_key,
        aws_secret_access_key=cluster.credentials.secret_key,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, signature_version="s3v4"),
    )


def test_cross_origin_post_and_put_then_download(
    console_cluster: LocalCluster, browser: Any, page_server: _PageServer, tmp_path: Path
) -> None:
    s3 = signer(console_cluster)
    bucket = f"cors-{uuid.uuid4().hex[:8]}"
    closed = f"nocors-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.create_bucket(Bucket=closed)
    s3.put_bucket_cors(
        Bucket=bucket,
        CORSConfiguration={
            "CORSRules": [
                {
                    "AllowedOrigins": [page_server.origin],
                    "AllowedMethods": ["GET", "PUT", "POST"],
                    "AllowedHeaders": ["*"],
                    "ExposeHeaders": ["ETag"],
                    "MaxAgeSeconds": 60,
                }
            ]
        },
    )
    body = os.urandom(FILE_BYTES)
    expected = hashlib.sha256(body).hexdigest()
    upload = tmp_path / "upload.bin"
    upload.write_bytes(body)
    post = s3.generate_presigned_post(
        Bucket=bucket,
        Key="posted/${filename}",
        Conditions=[["starts-with", "$key", "posted/"], ["content-length-range", 1, 8 * MiB]],
        ExpiresIn=600,
    )
    config = {
        "post": post,
        "put_url": s3.generate_presigned_url(
            "put_object", Params={"Bucket": bucket, "Key": "put.bin"}, ExpiresIn=600
        ),
        "posted_get_url": s3.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": "posted/upload.bin"}, ExpiresIn=600
        ),
        "put_get_url": s3.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": "put.bin"}, ExpiresIn=600
        ),
        "no_cors_put_url": s3.generate_presigned_url(
            "put_object", Params={"Bucket": closed, "Key": "put.bin"}, ExpiresIn=600
        ),
    }
    page_server.html = PAGE.replace("__CONFIG__", json.dumps(config)).encode()
    browser.get(page_server.origin + "/")
    browser.find_element(By.ID, "file").send_keys(str(upload))
    browser.find_element(By.ID, "go").click()
    text = WebDriverWait(browser, WAIT_SECONDS, poll_frequency=0.2).until(
        lambda d: d.find_element(By.ID, "result").text
    )
    result = json.loads(text)
    assert "error" not in result, result
    assert result["origin"] == page_server.origin
    assert result["post"]["status"] == 204
    assert result["post"]["etag"] == f'"{hashlib.md5(body).hexdigest()}"'  # exposed by the rule
    assert result["put"]["status"] == 200
    assert result["put"]["etag"] == f'"{hashlib.md5(body).hexdigest()}"'
    for name in ("posted_download", "put_download"):
        assert result[name] == {"status": 200, "bytes": FILE_BYTES, "sha256": expected}, name
    # The bucket without CORS rules: the browser refuses to let the page see it.
    assert result["no_cors"].startswith("blocked"), result["no_cors"]
    # And what the server holds is the file, byte for byte.
    for key in ("posted/upload.bin", "put.bin"):
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body
