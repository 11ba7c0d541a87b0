"""The register linearizability checker now lives in chaos/linearizability.py
(the chaos harness uses it per key); re-exported for the fault tests."""

from chaos.linearizability import FAIL, OK, UNKNOWN, Op, check

__all__ = ["FAIL", "OK", "UNKNOWN", "Op", "check"]
