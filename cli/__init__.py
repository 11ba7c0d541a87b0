"""The `tessera` command: one sub-command per role, `up`, and `admin`."""
