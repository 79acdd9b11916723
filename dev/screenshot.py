"""docs/ui.png: the UI of the first sandbox host as the admin user sees it, after `make demo`.

    python -m dev.screenshot
"""

from __future__ import annotations

import sys

from core.data import public_urls
from dev.browser import ui_page
from dev.operator import inventory_hosts
from sandbox.settings import ROOT, SECRETS_DIR

OUTPUT = ROOT / "docs/ui.png"


def main() -> int:
    hosts = inventory_hosts()
    if not hosts:
        print("no sandbox host: run `make demo` first", file=sys.stderr)
        return 1
    _, ui = public_urls(*hosts[0])
    with ui_page("admin", (SECRETS_DIR / "passwords/admin").read_text()) as page:
        page.goto(ui)
        page.get_by_text("hello").first.wait_for(timeout=30_000)
        page.screenshot(path=str(OUTPUT))
    print(OUTPUT.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
