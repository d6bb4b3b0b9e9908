"""Debian's Chromium for browser tests: Playwright's own browser download does not work here."""

import os
from pathlib import Path

CHROMIUM = Path(os.environ.get("OMNICO_CHROMIUM", "/usr/bin/chromium"))
#: Without the networking flags Chromium keeps trying hosts a closed network cannot reach.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
