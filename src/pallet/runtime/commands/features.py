"""pallet-runtime features."""

from __future__ import annotations

import sys

USAGE = "pallet-runtime features"
OPTIONS = ()


def run(g: object, opts: dict[str, object], args: list[str]) -> int:
    import json

    from pallet.oci.features import features

    sys.stdout.write(json.dumps(features(), indent="    ") + "\n")
    return 0
