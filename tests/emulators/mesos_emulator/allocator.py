"""Which framework gets which agent's free resources as an offer, after Mesos' hierarchical DRF
allocator (`src/master/allocator/mesos/hierarchical.cpp`, `docs/app-framework-development-guide.md`):

- roles in order of weighted dominant share (`--weights`, 1.0 by default), then the frameworks of a
  role in order of their own dominant share;
- each allocation gives all of an agent's unallocated resources to one framework;
- an agent whose free resources are below `--min_allocatable_resources` (cpus 0.01 or mem 32 MB)
  is not offered;
- a framework that declined an offer (or left part of it unused in an accept) is not offered that
  agent's resources again while its filter's `refuse_seconds` (5 s by default) run, unless what the
  agent has free is more than what was refused (`RefusedOfferFilter`: filtered when a subset);
- a suppressed framework gets nothing.

Pure functions over plain dicts, so the master holds the state and its lock."""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_REFUSE_SECONDS = 5.0
DOMINANT_SCALARS = ("cpus", "mem", "disk", "gpus")
MIN_ALLOCATABLE = {"cpus": 0.01, "mem": 32.0}


@dataclass
class Candidate:
    """A framework as the allocator sees it: its role, what it holds (used plus offered), whether
    it takes offers at all (a subscribed v1 framework that did not SUPPRESS)."""

    id: str
    role: str = "*"
    allocated: dict[str, object] = field(default_factory=dict)
    offerable: bool = True


def scalar(resources: dict[str, object], name: str) -> float:
    value = resources.get(name, 0.0)
    return float(value) if isinstance(value, int | float) else 0.0


def dominant_share(allocated: dict[str, object], total: dict[str, object]) -> float:
    """The largest share of the cluster's total the allocation holds in any one scalar."""
    shares = [scalar(allocated, n) / scalar(total, n) for n in DOMINANT_SCALARS if scalar(total, n) > 0]
    return max(shares, default=0.0)


def allocatable(free: dict[str, object]) -> bool:
    return any(scalar(free, name) >= minimum for name, minimum in MIN_ALLOCATABLE.items())


def drf_order(candidates: list[Candidate], total: dict[str, object],
              weights: dict[str, float]) -> list[Candidate]:
    """Candidates sorted as DRF serves them: role share over weight, own share, then id."""
    by_role: dict[str, dict[str, float]] = {}
    for candidate in candidates:
        held = by_role.setdefault(candidate.role, {})
        for name in DOMINANT_SCALARS:
            held[name] = held.get(name, 0.0) + scalar(candidate.allocated, name)

    def key(candidate: Candidate) -> tuple[float, float, str]:
        role_share = dominant_share(by_role[candidate.role], total) / (weights.get(candidate.role) or 1.0)
        return role_share, dominant_share(candidate.allocated, total), candidate.id

    return sorted(candidates, key=key)


def within(free: dict[str, object], refused: dict[str, object]) -> bool:
    """Whether every scalar of `free` is no more than in `refused` (a refused offer's filter holds)."""
    return all(scalar(free, name) <= scalar(refused, name) + 1e-9 for name in DOMINANT_SCALARS)


Refusals = dict[tuple[str, str], tuple[float, dict[str, object]]]


def allocate(free_by_agent: dict[str, dict[str, object]], candidates: list[Candidate],
             total: dict[str, object], weights: dict[str, float],
             refused: Refusals, now: float) -> list[tuple[str, str, dict[str, object]]]:
    """One allocation pass: (framework id, agent id, resources) for each offer to make, agents in id
    order; `refused` maps (framework, agent) to the filter's end and the resources it refused.
    What a framework is offered counts towards its share for the agents after it."""
    held = {c.id: Candidate(c.id, c.role, dict(c.allocated), c.offerable) for c in candidates}
    offers: list[tuple[str, str, dict[str, object]]] = []
    for agent_id in sorted(free_by_agent):
        free = free_by_agent[agent_id]
        if not allocatable(free):
            continue
        for candidate in drf_order(list(held.values()), total, weights):
            until, what = refused.get((candidate.id, agent_id), (0.0, {}))
            if not candidate.offerable or (until > now and within(free, what)):
                continue
            offers.append((candidate.id, agent_id, dict(free)))
            for name in DOMINANT_SCALARS:
                candidate.allocated[name] = scalar(candidate.allocated, name) + scalar(free, name)
            break
    return offers
