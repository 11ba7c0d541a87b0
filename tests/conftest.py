"""Settings shared by every test: Hypothesis without its timing checks.

Hypothesis fails an example that takes longer than 200 ms by default: a timed
assertion, which a loaded 2-core CI machine trips at random (a 282 ms example of
a pure function failed a clean run). Speed is measured in bench/, never asserted
in tests, so the deadline is off, and so is the too_slow health check (data generation
timed the same way); every other setting is Hypothesis's default.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

settings.register_profile("tessera", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("tessera")
