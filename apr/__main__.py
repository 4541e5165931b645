"""``python -m apr …`` and ``torchrun … -m apr …`` run the ``apr`` console script."""

from apr.cli import main

raise SystemExit(main())
