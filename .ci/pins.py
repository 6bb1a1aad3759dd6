"""Compare the distributions installed in this interpreter's environment with .ci/constraints.txt.

    python .ci/pins.py check   the pinned step: fail if a distribution has no pin for this Python
                               (a dependency added without `bash .ci/lock`) or another version
    python .ci/pins.py diff    the latest step: list the versions that differ from the pins (when it
                               fails, these are the upstream releases to suspect)

Run with the venv's own interpreter; needs ``packaging`` (pytest brings it).
"""

from __future__ import annotations

import sys
from importlib.metadata import distributions
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

CONSTRAINTS = Path(__file__).with_name("constraints.txt")
OWN = {"costroute"}


def pins() -> dict[str, str]:
    """Name -> pinned version, for the pins whose marker holds in this interpreter."""
    out = {}
    for line in CONSTRAINTS.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        req = Requirement(line)
        if req.marker is not None and not req.marker.evaluate():
            continue
        [spec] = req.specifier
        out[canonicalize_name(req.name)] = spec.version
    return out


def installed() -> dict[str, str]:
    found = {canonicalize_name(d.metadata["Name"]): d.version for d in distributions()}
    return {name: version for name, version in found.items() if name not in OWN}


def main(mode: str) -> int:
    pinned, have = pins(), installed()
    unpinned = sorted(set(have) - set(pinned))
    moved = sorted(n for n in have if n in pinned and have[n] != pinned[n])
    if mode == "check":
        for name in unpinned:
            print(f"  {name} {have[name]} is installed but has no pin: run bash .ci/lock", file=sys.stderr)
        for name in moved:
            print(f"  {name} {have[name]} is installed, {pinned[name]} pinned", file=sys.stderr)
        return 1 if unpinned or moved else 0
    if not moved and not unpinned:
        print("  every distribution is at its pinned version")
    for name in moved:
        print(f"  {name:28} {pinned[name]:>14} -> {have[name]}")
    for name in unpinned:
        print(f"  {name:28} {'(no pin)':>14} -> {have[name]}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in ("check", "diff"):
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
