"""pytest plugin shipped with pv.

It registers the ``falsifies`` marker so a test can claim the falsifier ids it guards::

    @pytest.mark.falsifies("FALSIFY-TOK-001")
    def test_every_id_below_vocab(): ...

``pv lint`` reads these markers statically (gate ``orphans``) to find tests that claim
an id no contract declares.
"""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "falsifies(*ids): the FALSIFY-<AREA>-NNN ids of contract falsifiers this test guards",
    )
