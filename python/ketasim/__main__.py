"""``python -m ketasim ARGS``: runs the ``ketasim`` command line (the C++ program) with ARGS.

There is one command line, so ``python -m ketasim compare`` and ``ketasim compare`` give the same
output and exit codes; its options are parsed once, in src/cli. (A second, Python command line,
``ketasim-py``, had its own ``compare`` with different output and exit codes; it was removed.)
The program is $KETASIM_CLI if set, else ``ketasim`` on PATH. From Python, the API does the same
things: ``ks.flagship.compare("out/flagship.png")`` draws the flagship figure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from typing import Optional, Sequence


def find_cli() -> Optional[str]:
    """Path of the ``ketasim`` program: $KETASIM_CLI if set (None if not executable), else PATH."""
    env = os.environ.get("KETASIM_CLI")
    if env:
        return env if os.path.isfile(env) and os.access(env, os.X_OK) else None
    return shutil.which("ketasim")


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    cli = find_cli()
    if cli is None:
        env = os.environ.get("KETASIM_CLI")
        where = f"KETASIM_CLI={env} is not an executable file" if env else "not on PATH"
        print(
            f"python -m ketasim: error: the ketasim command line was not found ({where}); the Python "
            "package does not include it: build it with CMake (README, 'The two commands') or set "
            "KETASIM_CLI. From Python use the API, e.g. ks.flagship.compare('out/flagship.png').",
            file=sys.stderr,
        )
        return 2
    return subprocess.call([cli, *args])


if __name__ == "__main__":
    sys.exit(main())
