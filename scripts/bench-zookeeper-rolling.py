#!/usr/bin/env python3
"""Roll a ZooKeeper config change through a running ensemble while a client writes.

    scripts/bench-zookeeper-rolling.py -i inventories/lab/zk.yml [--tick-time 3000]

The benchmark is stackbench.bench.zookeeper_rolling (src/stackbench/bench/); --help says more.
"""

import sys

from stackbench.bench.zookeeper_rolling import main

if __name__ == "__main__":
    sys.exit(main())
