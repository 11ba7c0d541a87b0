"""Console sign-in sessions: a random id (the cookie) mapped, in this process's
memory, to the access key that signed in, with a CSRF token and two expiries.

Invariants: a session id and a CSRF token are 256-bit random values, unrelated
to each other and to any key; the store never holds a secret key (presigning
looks the secret up at use time, so a key removed from the gateway ends its
sessions); a session unused for idle_seconds, or older than max_seconds, is
never returned again; at most sessions_max live at once (the least recently
used goes first). The clock is injected, so expiry is tested without waiting.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from tessera import limits


@dataclass
class Session:
    session_id: str
    access_key: str
    csrf_token: str
    created_at: float  # the store's clock
    last_used_at: float

    def csrf_matches(self, provided: str | None) -> bool:
        """Constant-time check of the CSRF token a request carried."""
        if not provided:
            return False
        return hmac.compare_digest(self.csrf_token.encode(), provided.encode("utf-8", "replace"))


class SessionStore:
    def __init__(
        self,
        *,
        idle_seconds: float = limits.CONSOLE_SESSION_IDLE_SECONDS,
        max_seconds: float = limits.CONSOLE_SESSION_MAX_SECONDS,
        sessions_max: int = limits.CONSOLE_SESSIONS_MAX,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        assert 0 < idle_seconds <= max_seconds and sessions_max > 0
        self.idle_seconds = idle_seconds
        self.max_seconds = max_seconds
        self._sessions_max = sessions_max
        self._clock = clock
        self._sessions: OrderedDict[str, Session] = OrderedDict()  # least recently used first

    def __len__(self) -> int:
        return len(self._sessions)

    def create(self, access_key: str) -> Session:
        now = self._clock()
        self._purge(now)
        while len(self._sessions) >= self._sessions_max:
            self._sessions.popitem(last=False)
        session = Session(
            session_id=secrets.token_urlsafe(32),
            access_key=access_key,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            last_used_at=now,
        )
        self._sessions[session.session_id] = session
        return session

    def get(self, session_id: str | None) -> Session | None:
        """The live session with this id, marked used now; None if there is none."""
        if not session_id:
            return None
        session = self._sessions.get(session_id)
        if session is None:
            return None
        now = self._clock()
        if self._expired(session, now):
            del self._sessions[session_id]
            return None
        session.last_used_at = now
        self._sessions.move_to_end(session_id)
        return session

    def delete(self, session_id: str) -> None:
        self._sessions.pop(session_id, None)

    def seconds_left(self, session: Session) -> float:
        """Until the session expires if it stays unused."""
        now = self._clock()
        return max(
            0.0,
            min(
                session.last_used_at + self.idle_seconds,
                session.created_at + self.max_seconds,
            )
            - now,
        )

    def _expired(self, session: Session, now: float) -> bool:
        return (
            now - session.last_used_at >= self.idle_seconds
            or now - session.created_at >= self.max_seconds
        )

    def _purge(self, now: float) -> None:
        # On sign-in only; at most sessions_max entries, so a full scan is cheap.
        for session_id in [s.session_id for s in self._sessions.values() if self._expired(s, now)]:
            del self._sessions[session_id]
