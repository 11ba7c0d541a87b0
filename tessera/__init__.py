"""Tessera's pure core: erasure coding, placement, stripe and range arithmetic,
checksums, limits, configuration and the error tree.

Nothing in this package performs network or file I/O or imports asyncio, grpc,
aiohttp or rocksdict, so it can be tested fast and exhaustively.
"""
