"""Two builds of one component on one machine run one after the other (registry.build_lock)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

from stackbench.artifacts import registry


def test_a_second_build_waits_for_the_first(tmp_path, monkeypatch):
    monkeypatch.setenv("STACKBENCH_CACHE", str(tmp_path))
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent("""
        import sys, time
        from stackbench.artifacts import registry
        with registry.build_lock("etcd", log=lambda _m: None):
            print("held", flush=True)
            time.sleep(1.5)
        """)], stdout=subprocess.PIPE, text=True, env={**os.environ, "STACKBENCH_CACHE": str(tmp_path)})
    try:
        assert holder.stdout.readline().strip() == "held"
        said: list[str] = []
        started = time.monotonic()
        with registry.build_lock("etcd", log=said.append):
            waited = time.monotonic() - started
        assert waited > 0.5, "the lock was not held by the other process"
        assert said == [f"artifacts etcd: waiting for another build of it to finish ({tmp_path}/build/etcd.lock)"]
    finally:
        holder.wait(timeout=10)


def test_other_components_do_not_wait(tmp_path, monkeypatch):
    monkeypatch.setenv("STACKBENCH_CACHE", str(tmp_path))
    said: list[str] = []
    with registry.build_lock("etcd", log=said.append), registry.build_lock("zookeeper", log=said.append):
        pass
    assert said == []
