#!/usr/bin/env python3
"""What a re-run costs against the first run (cold, warm, warm with --mitogen), on the lab.

    scripts/bench-rerun.py mesos kubernetes [--keep]

The benchmark is stackbench.bench.rerun (src/stackbench/bench/); --help says more.
"""

import sys

from stackbench.bench.rerun import main

if __name__ == "__main__":
    sys.exit(main())
