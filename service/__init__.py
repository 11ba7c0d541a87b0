"""Process plumbing shared by every role: the ops HTTP endpoint (/metrics,
/healthz, /readyz), logging, and running a role under uvloop until a signal."""
