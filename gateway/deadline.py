"""One deadline per request, set at the edge; every internal call gets the
time that remains (gRPC has no default deadline)."""

from __future__ import annotations

import time

from tessera import errors


class Deadline:
    def __init__(self, budget_seconds: float) -> None:
        self._at = time.monotonic() + budget_seconds

    def remaining(self) -> float:
        """Seconds left; raises RequestTimeout once the deadline has passed."""
        left = self._at - time.monotonic()
        if left <= 0:
            raise errors.RequestTimeout("the request deadline passed")
        return left
