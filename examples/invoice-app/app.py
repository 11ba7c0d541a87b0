"""A small point-of-sale back office on Tessera: the pattern an app backend
uses with object storage (docs/cdn-and-apps.md).

- "New invoice" makes the invoice PDF (invoice_pdf.py), uploads it to a
  private bucket, and keeps only the object key in its own database; the
  invoice's page hands the browser a short-lived pre-signed GET link.
- "Upload a receipt" hands the browser a pre-signed POST form: the file goes
  from the browser straight to Tessera, and the app only hears back the key
  (success_action_redirect) and checks that the object is there (HEAD).

The app never proxies a download or an upload. Run it against `tessera up`
(it reads the root credentials from ./data/cluster.json) with:

    .venv/bin/python examples/invoice-app/app.py

and open http://127.0.0.1:8080/.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import html
import json
import os
import sqlite3
import sys
import uuid
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import boto3
from aiohttp import web
from botocore.config import Config
from botocore.exceptions import ClientError

sys.path.insert(0, str(Path(__file__).resolve().parent))
from invoice_pdf import Invoice, Line, render

SELLER = "Corner Coffee Shop, 1 Market Street"
LINK_SECONDS_DEFAULT = 300
LINK_SECONDS_MAX = 7 * 24 * 3600  # SigV4's limit for a pre-signed URL
UPLOAD_FORM_SECONDS = 600
UPLOAD_BYTES_MAX = 10 * 1024 * 1024
LINES_MAX = 20

CONFIG = web.AppKey("config", dict)
S3: web.AppKey[Any] = web.AppKey("s3")  # a boto3 S3 client
DB = web.AppKey("db", sqlite3.Connection)

STYLE = """body{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;color:#222}
nav a{margin-right:1rem}table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #ddd;padding:.3rem;text-align:left}
input{margin:.2rem}.note{color:#666;font-size:.9rem}"""


def page(title: str, body: str) -> web.Response:
    return web.Response(
        text=f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
        f"</title><style>{STYLE}</style></head><body><nav><a href='/'>Invoices</a>"
        f"<a href='/invoices/new'>New invoice</a><a href='/receipts'>Upload a receipt</a></nav>"
        f"<h1>{html.escape(title)}</h1>{body}</body></html>",
        content_type="text/html",
    )


def open_db(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, check_same_thread=False)
    db.executescript(
        "CREATE TABLE IF NOT EXISTS invoices (id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " number TEXT UNIQUE, customer TEXT, total TEXT, object_key TEXT, issued TEXT);"
        "CREATE TABLE IF NOT EXISTS receipts (object_key TEXT PRIMARY KEY, size INTEGER,"
        " received TEXT);"
    )
    return db


async def in_thread(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """boto3 and sqlite block: they run off the event loop."""
    return await asyncio.to_thread(fn, *args, **kwargs)


# ------------------------------------------------------------ invoices


async def list_invoices(request: web.Request) -> web.Response:
    db = request.app[DB]
    rows = await in_thread(
        lambda: db.execute(
            "SELECT number, customer, total, issued FROM invoices ORDER BY id DESC"
        ).fetchall()
    )
    body = "".join(
        f"<tr><td><a href='/invoices/{html.escape(n)}'>{html.escape(n)}</a></td>"
        f"<td>{html.escape(c)}</td><td>{html.escape(t)}</td><td>{html.escape(d)}</td></tr>"
        for n, c, t, d in rows
    )
    table = (
        f"<table><tr><th>Number</th><th>Customer</th><th>Total</th><th>Date</th></tr>{body}</table>"
        if rows
        else "<p>No invoices yet.</p>"
    )
    return page("Invoices", table)


async def new_invoice_form(request: web.Request) -> web.Response:
    rows = "".join(
        f"<tr><td><input name='description' id='description-{i}'></td>"
        f"<td><input name='quantity' id='quantity-{i}' size='3' value='1'></td>"
        f"<td><input name='price' id='price-{i}' size='8'></td></tr>"
        for i in range(3)
    )
    form = (
        "<form method='post' action='/invoices'><p>Customer: "
        "<input name='customer' id='customer' required></p>"
        "<table><tr><th>Description</th><th>Qty</th><th>Unit price</th></tr>"
        f"{rows}</table><p><button id='create' type='submit'>Create invoice</button></p></form>"
    )
    return page("New invoice", form)


def parse_lines(form: Any) -> tuple[Line, ...]:
    descriptions = form.getall("description", [])
    quantities = form.getall("quantity", [])
    prices = form.getall("price", [])
    lines = []
    for description, quantity, price in zip(descriptions, quantities, prices, strict=False):
        if not description.strip():
            continue
        try:
            line = Line(description.strip(), int(quantity), Decimal(price))
        except (ValueError, InvalidOperation) as exc:
            raise web.HTTPBadRequest(text=f"bad line {description!r}: {exc}") from exc
        if line.quantity < 1 or line.unit_price < 0:
            raise web.HTTPBadRequest(text=f"bad line {description!r}")
        lines.append(line)
    if not lines or len(lines) > LINES_MAX:
        raise web.HTTPBadRequest(text=f"an invoice has 1 to {LINES_MAX} lines")
    return tuple(lines)


async def create_invoice(request: web.Request) -> web.Response:
    form = await request.post()
    customer = str(form.get("customer", "")).strip()
    if not customer:
        raise web.HTTPBadRequest(text="customer is required")
    lines = parse_lines(form)
    db, s3, config = request.app[DB], request.app[S3], request.app[CONFIG]
    issued = datetime.date.today().isoformat()

    def reserve() -> str:
        with db:
            cursor = db.execute(
                "INSERT INTO invoices (customer, issued) VALUES (?, ?)", (customer, issued)
            )
            number = f"INV-{cursor.lastrowid:06d}"
            db.execute("UPDATE invoices SET number = ? WHERE id = ?", (number, cursor.lastrowid))
        return number

    number = await in_thread(reserve)
    invoice = Invoice(number, issued, SELLER, customer, lines)
    key = f"invoices/{issued[:4]}/{number}.pdf"
    await in_thread(
        s3.put_object,
        Bucket=config["bucket"],
        Key=key,
        Body=render(invoice),
        ContentType="application/pdf",
        Metadata={"invoice-number": number},
        # No ACL and no Cache-Control: the invoice stays private, and its
        # pre-signed links are answered with Cache-Control: private, so no
        # shared cache keeps a copy past the link's expiry.
    )

    def record() -> None:
        with db:
            db.execute(
                "UPDATE invoices SET total = ?, object_key = ? WHERE number = ?",
                (f"{invoice.total:.2f} {invoice.currency}", key, number),
            )

    await in_thread(record)
    raise web.HTTPSeeOther(f"/invoices/{number}")


def link_seconds(request: web.Request) -> int:
    """The pre-signed link's lifetime: ?valid=SECONDS (a share link), or the default."""
    raw = request.query.get("valid", "")
    if not raw:
        return int(request.app[CONFIG]["link_seconds"])
    if not raw.isdigit() or not 1 <= int(raw) <= LINK_SECONDS_MAX:
        raise web.HTTPBadRequest(text=f"valid is 1 to {LINK_SECONDS_MAX} seconds")
    return int(raw)


async def show_invoice(request: web.Request) -> web.Response:
    number = request.match_info["number"]
    db, s3, config = request.app[DB], request.app[S3], request.app[CONFIG]
    row = await in_thread(
        lambda: db.execute(
            "SELECT customer, total, object_key, issued FROM invoices WHERE number = ?",
            (number,),
        ).fetchone()
    )
    if row is None or row[2] is None:
        raise web.HTTPNotFound(text="no such invoice")
    customer, total, key, issued = row
    seconds = link_seconds(request)
    url = await in_thread(
        s3.generate_presigned_url,
        "get_object",
        Params={
            "Bucket": config["bucket"],
            "Key": key,
            "ResponseContentDisposition": f'attachment; filename="{number}.pdf"',
        },
        ExpiresIn=seconds,
    )
    body = (
        f"<p>Customer: <b id='customer'>{html.escape(customer)}</b></p>"
        f"<p>Total: <b id='total'>{html.escape(total)}</b> (issued {html.escape(issued)})</p>"
        f"<p>Stored as <code id='key'>{html.escape(key)}</code></p>"
        f"<p><a id='download' href='{html.escape(url)}'>Download PDF</a> "
        f"<span class='note'>a pre-signed link, valid for {seconds} s</span></p>"
    )
    return page(f"Invoice {number}", body)


# ------------------------------------------------------------ receipts


async def receipt_form(request: web.Request) -> web.Response:
    s3, config = request.app[S3], request.app[CONFIG]
    prefix = f"receipts/{uuid.uuid4().hex}/"
    done = f"{config['app_url']}/receipts/received"
    post = await in_thread(
        s3.generate_presigned_post,
        config["bucket"],
        prefix + "${filename}",
        Fields={"success_action_redirect": done},
        Conditions=[
            ["starts-with", "$key", prefix],
            {"success_action_redirect": done},
            ["content-length-range", 1, UPLOAD_BYTES_MAX],
        ],
        ExpiresIn=UPLOAD_FORM_SECONDS,
    )
    fields = "".join(
        f"<input type='hidden' name='{html.escape(name)}' value='{html.escape(value)}'>"
        for name, value in post["fields"].items()
    )
    db = request.app[DB]
    rows = await in_thread(
        lambda: db.execute(
            "SELECT object_key, size, received FROM receipts ORDER BY received DESC"
        ).fetchall()
    )
    listing = "".join(
        f"<li><code>{html.escape(k)}</code> ({s} bytes, {html.escape(r)})</li>" for k, s, r in rows
    )
    body = (
        f"<form id='upload' method='post' action='{html.escape(post['url'])}' "
        f"enctype='multipart/form-data'>{fields}"
        "<input type='file' name='file' id='file' required> "
        "<button id='send' type='submit'>Upload</button></form>"
        "<p class='note'>The file goes from this browser straight to the object store "
        "(a pre-signed POST); this app never sees its bytes.</p>"
        f"<h2>Received</h2><ul id='receipts'>{listing}</ul>"
    )
    return page("Upload a receipt", body)


async def receipt_received(request: web.Request) -> web.Response:
    """Where Tessera sends the browser after a successful POST upload: the app
    checks the object exists (HEAD: metadata only) and records its key."""
    config, s3, db = request.app[CONFIG], request.app[S3], request.app[DB]
    key = request.query.get("key", "")
    if request.query.get("bucket") != config["bucket"] or not key.startswith("receipts/"):
        raise web.HTTPBadRequest(text="not an upload of this app")
    try:
        head = await in_thread(s3.head_object, Bucket=config["bucket"], Key=key)
    except ClientError as exc:
        raise web.HTTPBadRequest(text="no such upload") from exc
    size = int(head["ContentLength"])
    received = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")

    def record() -> None:
        with db:
            db.execute("INSERT OR REPLACE INTO receipts VALUES (?, ?, ?)", (key, size, received))

    await in_thread(record)
    body = (
        f"<p id='received'>Received <code>{html.escape(key)}</code>, {size} bytes.</p>"
        "<p><a href='/receipts'>Upload another</a></p>"
    )
    return page("Receipt uploaded", body)


# ------------------------------------------------------------ setup


def credentials(args: argparse.Namespace) -> tuple[str, str]:
    access = os.environ.get("AWS_ACCESS_KEY_ID", "")
    secret = os.environ.get("AWS_SECRET_ACCESS_KEY", "")
    if access and secret:
        return access, secret
    cluster = Path(args.data_dir) / "cluster.json"
    if not cluster.exists():
        sys.exit("no credentials: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or --data-dir")
    saved = json.loads(cluster.read_text())
    return saved["access_key"], saved["secret_key"]


def build_app(args: argparse.Namespace) -> web.Application:
    access, secret = credentials(args)
    s3 = boto3.client(
        "s3",
        endpoint_url=args.endpoint,
        aws_access_key_id=access,
        aws_secret_access_key=secret,
        region_name="us-east-1",
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )
    try:
        s3.head_bucket(Bucket=args.bucket)
    except ClientError:
        s3.create_bucket(Bucket=args.bucket)  # private: only pre-signed links open it
    host, _, port = args.listen.rpartition(":")
    app = web.Application()
    app[CONFIG] = {
        "bucket": args.bucket,
        "link_seconds": args.link_seconds,
        "app_url": args.public_url or f"http://{host}:{port}",
    }
    app[S3] = s3
    app[DB] = open_db(Path(args.state_dir) / "invoices.sqlite3")
    app.router.add_get("/", list_invoices)
    app.router.add_get("/invoices/new", new_invoice_form)
    app.router.add_post("/invoices", create_invoice)
    app.router.add_get("/invoices/{number}", show_invoice)
    app.router.add_get("/receipts", receipt_form)
    app.router.add_get("/receipts/received", receipt_received)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--endpoint", default=os.environ.get("S3_ENDPOINT", "http://127.0.0.1:9000")
    )
    parser.add_argument("--data-dir", default="./data", help="tessera up's data dir (credentials)")
    parser.add_argument("--bucket", default="invoices")
    parser.add_argument("--listen", default="127.0.0.1:8080")
    parser.add_argument("--public-url", default="", help="the app's URL as browsers reach it")
    parser.add_argument("--state-dir", default="./data/invoice-app", help="the app's database")
    parser.add_argument("--link-seconds", type=int, default=LINK_SECONDS_DEFAULT)
    args = parser.parse_args()
    app = build_app(args)
    host, _, port = args.listen.rpartition(":")
    print(f"invoice app on http://{host}:{port}/ (objects in {args.endpoint}/{args.bucket})")
    web.run_app(app, host=host, port=int(port), print=None)


if __name__ == "__main__":
    main()
