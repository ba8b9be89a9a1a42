"""Benchmarks run from scripts/bench-*: a client on the controller measures a cluster while a
playbook changes it."""
