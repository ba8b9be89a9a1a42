#!/usr/bin/env python3
"""Roll a configuration change through an etcd cluster while a client writes once a second.

    scripts/bench-etcd-rolling.py [-i inventories/lab/etcdbench.yml] [-e VAR=VALUE ...] [--revert]

The benchmark is stackbench.bench.etcd_rolling (src/stackbench/bench/); --help says more.
"""

import sys

from stackbench.bench.etcd_rolling import main

if __name__ == "__main__":
    sys.exit(main())
