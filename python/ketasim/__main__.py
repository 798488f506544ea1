"""``python -m ketasim``: the flagship comparison (as ``ketasim compare``), or ``models``."""

from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence


def main(argv: Optional[Sequence[str]] = None) -> int:
    import ketasim as ks

    p = argparse.ArgumentParser(prog="python -m ketasim", description=__doc__)
    sub = p.add_subparsers(dest="command")
    cmp = sub.add_parser("compare", help="IV racemic vs intranasal esketamine/racemic (default)")
    for q in (p, cmp):
        q.add_argument("--out", default="out/flagship.png", help="figure file (PNG)")
        q.add_argument("--weight", type=float, default=70.0, help="body weight, kg")
        q.add_argument("--threshold", type=float, default=100.0, help="concentration threshold, ng/mL")
        q.add_argument("--t-end", default="24 h", help="end of the simulation, e.g. '24 h'")
        q.add_argument("--dt", default="1 min", help="output step, e.g. '1 min'")
    sub.add_parser("models", help="list the model library")
    sub.add_parser("version", help="print the version")
    a = p.parse_args(argv)
    try:
        if a.command == "models":
            print(ks.list_models()[["name", "title", "route", "default"]].to_string(index=False))
        elif a.command == "version":
            print(ks.__version__)
        else:
            ks.flagship.compare(a.out, weight=a.weight, threshold=a.threshold, t_end=a.t_end, dt=a.dt)
    except (ValueError, RuntimeError) as e:
        print(f"ketasim: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
