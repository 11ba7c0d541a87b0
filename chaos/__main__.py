"""`python -m chaos` runs the chaos CLI (the same as `tessera chaos`)."""

from chaos.cli import main

main()
