"""Request authentication for the S3 gateway: AWS Signature Version 4 (sigv4), and
the canonicalisation rules it signs over (canonical). Pure code: no aiohttp, no I/O."""
