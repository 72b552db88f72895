"""The ``coresdk-sidecar`` console script: the sidecar program, built into the extension, on ``PATH``.

``pip install coresdk`` installs it; ``coresdk-sidecar --dev`` then serves
without Node or a Rust toolchain. The program is the sidecar crate's own
command line (``coresdk-sidecar --help``); this launcher only hands it the
arguments and the default signal handling, then exits with its code.
"""

from __future__ import annotations

import signal
import sys

from ._native import sidecar_main


def main() -> None:
    """Runs ``coresdk-sidecar`` with this process's arguments and exits with its status."""
    # The program handles SIGINT/SIGTERM itself (drain, then exit); Python's
    # KeyboardInterrupt handler must not stand in front of it.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    sys.stdout.flush()
    code = sidecar_main(["coresdk-sidecar", *sys.argv[1:]])
    sys.exit(code)


if __name__ == "__main__":
    main()
