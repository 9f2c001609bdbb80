"""``python -m sklearn_ecprune``: the ``ecprune`` command line."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
