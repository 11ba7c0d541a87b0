"""A one-page invoice as a PDF, written by hand (PDF 1.4, the standard
Helvetica fonts, no compression): no dependency, a few hundred bytes of
structure around the text.

Invariant: the cross-reference table's offsets are the byte offsets of the
objects as written, so any PDF reader opens the file without repairing it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

PAGE_WIDTH_POINTS = 595  # A4
PAGE_HEIGHT_POINTS = 842


@dataclass(frozen=True)
class Line:
    description: str
    quantity: int
    unit_price: Decimal

    @property
    def amount(self) -> Decimal:
        return self.unit_price * self.quantity


@dataclass(frozen=True)
class Invoice:
    number: str
    issued: str  # ISO date
    seller: str
    customer: str
    lines: tuple[Line, ...]
    currency: str = "EUR"

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal("0.00"))


def _pdf_text(value: str) -> str:
    """A PDF string literal of value (WinAnsi: characters outside Latin-1 become '?')."""
    latin = value.encode("latin-1", "replace").decode("latin-1")
    return "(" + latin.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ")"


def _money(amount: Decimal, currency: str) -> str:
    return f"{amount.quantize(Decimal('0.01')):,} {currency}"


def _content(invoice: Invoice) -> str:
    ops = ["BT", "/F2 20 Tf", f"50 {PAGE_HEIGHT_POINTS - 70} Td", f"{_pdf_text('INVOICE')} Tj"]
    ops += ["/F1 11 Tf", "0 -28 Td", f"{_pdf_text(f'Number: {invoice.number}')} Tj"]
    ops += ["0 -16 Td", f"{_pdf_text(f'Date: {invoice.issued}')} Tj"]
    ops += ["0 -16 Td", f"{_pdf_text(f'From: {invoice.seller}')} Tj"]
    ops += ["0 -16 Td", f"{_pdf_text(f'Bill to: {invoice.customer}')} Tj"]
    ops += ["/F2 11 Tf", "0 -34 Td", f"{_pdf_text('Qty  Description')} Tj"]
    ops += ["330 0 Td", f"{_pdf_text('Unit price')} Tj", "100 0 Td", f"{_pdf_text('Amount')} Tj"]
    ops += ["-430 0 Td", "/F1 11 Tf"]
    for line in invoice.lines:
        ops += ["0 -18 Td", f"{_pdf_text(f'{line.quantity:>3}  {line.description[:48]}')} Tj"]
        ops += ["330 0 Td", f"{_pdf_text(_money(line.unit_price, invoice.currency))} Tj"]
        ops += ["100 0 Td", f"{_pdf_text(_money(line.amount, invoice.currency))} Tj", "-430 0 Td"]
    total = _money(invoice.total, invoice.currency)
    ops += ["/F2 12 Tf", "330 -30 Td", f"{_pdf_text('Total')} Tj"]
    ops += ["100 0 Td", f"{_pdf_text(total)} Tj", "ET"]
    return "\n".join(ops)


def render(invoice: Invoice) -> bytes:
    """The invoice as PDF bytes."""
    content = _content(invoice).encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        (
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {PAGE_WIDTH_POINTS} "
            f"{PAGE_HEIGHT_POINTS}] /Resources << /Font << /F1 5 0 R /F2 6 0 R >> >> "
            "/Contents 4 0 R >>"
        ).encode(),
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref_at = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref_at,
    )
    return bytes(out)
