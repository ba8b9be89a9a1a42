"""Helpers of the scenarios' day-two tests: a script kept running on a host during a playbook
run (a client probing or writing), and waiting for a condition."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any


def wait_for(check: Callable[[], Any], seconds: float, what: str) -> Any:
    """check() until it returns something true, at most `seconds`; that value."""
    deadline = time.monotonic() + seconds
    while True:
        if value := check():
            return value
        assert time.monotonic() < deadline, f"{what}: not within {seconds} s"
        time.sleep(1)


class Background:
    """A Python script run as root in the background on a testinfra host until stopped; it prints
    one JSON line, the result. Its last argument is the stop file it must watch."""

    def __init__(self, host: Any, name: str, script: str, *args: str) -> None:
        self.host, self.name = host, name
        with self.host.sudo():
            self.host.run(f"install -d -m 0700 /root/verify && rm -f /root/verify/{name}.stop /root/verify/{name}.out")
            self.host.run(f"cat > /root/verify/{name}.py <<'EOF'\n{script}\nEOF")
            started = self.host.run(f"setsid nohup python3 /root/verify/{name}.py {' '.join(args)} "
                                    f"/root/verify/{name}.stop >/root/verify/{name}.out 2>&1 &")
        assert started.rc == 0, started.stderr

    def stop(self) -> dict:
        with self.host.sudo():
            self.host.run(f"touch /root/verify/{self.name}.stop")
            out = wait_for(lambda: self.host.run(f"cat /root/verify/{self.name}.out").stdout.strip(), 15, self.name)
        return json.loads(out.splitlines()[-1])
