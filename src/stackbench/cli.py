"""The `stackbench` command: a thin driver over the lab, the artifact mirror and the playbooks."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from stackbench import catalog
from stackbench.errors import StackbenchError

if TYPE_CHECKING:
    from stackbench.runner import PlaybookOptions

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _lab(args: argparse.Namespace):  # noqa: ANN202 - lazy import keeps `--help` fast
    from stackbench.lab.lab import Lab

    return Lab(args.lab)


def cmd_lab_images(args: argparse.Namespace) -> int:
    from stackbench.lab import images
    from stackbench.lab.lab import docker_client

    base, mirror = images.ensure_images(docker_client())
    print(f"base image:   {base}\nmirror image: {mirror}")
    return EXIT_OK


def cmd_lab_up(args: argparse.Namespace) -> int:
    from stackbench.lab import topology

    if args.topology:
        topo = topology.from_file(Path(args.topology))
    elif args.platforms:
        import json

        topo = topology.from_platforms(args.lab, json.loads(args.platforms))
    else:
        topo = topology.builtin(args.stack, args.nodes)
    lab = _lab(args)
    lab.up(topo, subnet=args.subnet, instance_config=Path(args.instance_config) if args.instance_config else None)
    return EXIT_OK


def cmd_lab_down(args: argparse.Namespace) -> int:
    _lab(args).down()
    return EXIT_OK


def cmd_lab_fault(args: argparse.Namespace) -> int:
    lab = _lab(args)
    getattr(lab, args.action)(args.host)
    print(f"lab {args.lab}: {args.action} {args.host}: done")
    return EXIT_OK


def cmd_lab_status(args: argparse.Namespace) -> int:
    from stackbench.lab.lab import status_json

    lab = _lab(args)
    if args.json:
        print(status_json(lab))
        return EXIT_OK
    rows = lab.status()
    if not rows:
        print(f"lab {args.lab}: no hosts")
        return EXIT_OK
    print(f"{'HOST':<12} {'STATE':<10} {'ADDRESS':<16} {'NETWORK':<12} GROUPS")
    for row in rows:
        net = "connected" if row.connected else "PARTITIONED"
        print(f"{row.name:<12} {row.state:<10} {row.address:<16} {net:<12} {','.join(row.groups)}")
    return EXIT_OK


def cmd_lab_mirror(args: argparse.Namespace) -> int:
    address = _lab(args).ensure_mirror()
    print(f"mirror serving on {address} (network stackbench-{args.lab})")
    return EXIT_OK


def cmd_artifacts_build(args: argparse.Namespace) -> int:
    from stackbench.artifacts import registry

    for name in args.components or registry.names():
        registry.build(name, force=args.force)
    return EXIT_OK


def cmd_artifacts_list(args: argparse.Namespace) -> int:
    from stackbench.artifacts import registry

    for line in registry.listing():
        print(line)
    return EXIT_OK


def playbook_options(args: argparse.Namespace) -> PlaybookOptions:
    """The ansible-playbook options given on the command line; -k/-K passwords asked here, once."""
    from stackbench.runner import PlaybookOptions

    options = PlaybookOptions(
        check=args.check, diff=args.diff, limit=args.limit, tags=args.tags, skip_tags=args.skip_tags,
        extra_vars=args.extra_vars, verbosity=args.verbose, become=args.become, become_user=args.become_user,
        ask_become_pass=args.ask_become_pass, ask_pass=args.ask_pass, user=args.user,
        private_key=args.private_key, forks=args.forks, mitogen=args.mitogen,
    )
    options.validate()  # a missing -e @file is refused before any prompt
    # ansible-runner runs ansible-playbook without a terminal: it answers the prompts with these
    if options.ask_pass:
        options.ssh_password = getpass.getpass("SSH password: ")
    if options.ask_become_pass:
        prompt = "BECOME password[defaults to SSH password]: " if options.ask_pass else "BECOME password: "
        options.become_password = getpass.getpass(prompt) or (options.ssh_password if options.ask_pass else "")
    return options


def cmd_up(args: argparse.Namespace) -> int:
    from stackbench import stacks

    return stacks.up(args.stack, inventory=args.inventory, nodes=args.nodes, options=playbook_options(args))


def cmd_down(args: argparse.Namespace) -> int:
    from stackbench import stacks

    return stacks.down(args.stack, inventory=args.inventory, options=playbook_options(args), confirmed=args.yes)


def cmd_capacity(args: argparse.Namespace) -> int:
    from stackbench import stacks

    return stacks.capacity(args.stack, inventory=args.inventory, options=playbook_options(args))


def cmd_validate_ha(args: argparse.Namespace) -> int:
    from stackbench import stacks

    return stacks.validate_ha(args.stack, inventory=args.inventory, options=playbook_options(args))


def add_playbook_options(parser: argparse.ArgumentParser) -> None:
    """The ansible-playbook options operators use, passed through as ansible-playbook reads them."""
    g = parser.add_argument_group("ansible-playbook options (passed through)")
    g.add_argument("-C", "--check", action="store_true", help="check mode: change nothing, report what would change")
    g.add_argument("-D", "--diff", action="store_true", help="show what changes in files and templates")
    g.add_argument("-l", "--limit", help="only these hosts (an ansible pattern)")
    g.add_argument("-t", "--tags", action="append", default=[], help="only tasks with these tags (repeatable)")
    g.add_argument("--skip-tags", action="append", default=[], help="skip tasks with these tags (repeatable)")
    g.add_argument("-e", "--extra-vars", action="append", default=[], metavar="VARS",
                   help="KEY=VALUE [KEY=VALUE ...], JSON/YAML, or @FILE (repeatable; the last wins)")
    g.add_argument("-v", "--verbose", action="count", default=0, help="more output (-vvv for connection debugging)")
    g.add_argument("-b", "--become", action="store_true", help="run tasks with privilege escalation")
    g.add_argument("--become-user", help="become this user (default: root)")
    g.add_argument("-K", "--ask-become-pass", action="store_true", help="ask for the privilege escalation password")
    g.add_argument("-k", "--ask-pass", action="store_true", help="ask for the SSH password (needs sshpass)")
    g.add_argument("-u", "--user", help="connect as this user")
    g.add_argument("--private-key", metavar="FILE", help="SSH private key file")
    g.add_argument("-f", "--forks", type=int, help="parallel hosts (default: ansible.cfg's forks)")
    g.add_argument("--mitogen", action="store_true",
                   help="run with mitogen's linear strategy (pip install 'stackbench[mitogen]'; "
                        "scripts/bench-rerun.py measures it)")


def _csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def cmd_compare(args: argparse.Namespace) -> int:
    from stackbench.compare.evaluate import compare, summarize

    run_dir = compare(args.inventory, _csv(args.stacks), args.instances, args.out, _csv(args.faults),
                      set(_csv(args.skip)), sys.stdout)
    return EXIT_OK if summarize(run_dir, sys.stdout) else EXIT_FAILED


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stackbench", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    lab = sub.add_parser("lab", help="the local container lab").add_subparsers(dest="lab_command", required=True)

    def lab_cmd(name: str, func, help_text: str) -> argparse.ArgumentParser:  # noqa: ANN001
        p = lab.add_parser(name, help=help_text)
        p.add_argument("--lab", default="plain", help="lab name (default: plain)")
        p.set_defaults(func=func)
        return p

    images_p = lab.add_parser("images", help="build (or find cached) lab images")
    images_p.set_defaults(func=cmd_lab_images)
    up = lab_cmd("up", cmd_lab_up, "create lab hosts and write an inventory")
    up.add_argument("--stack", default="plain", help=f"topology: plain, {', '.join(catalog.names())}")
    up.add_argument("--nodes", type=int, help="number of hosts")
    up.add_argument("--topology", help="a topology YAML file (hosts: [{name, groups, profile}])")
    up.add_argument("--platforms", help=argparse.SUPPRESS)  # molecule's platforms, as JSON
    up.add_argument("--instance-config", help=argparse.SUPPRESS)  # molecule's instance config path
    up.add_argument("--subnet", help="IPv4 subnet for the lab network (default: a free /24)")
    lab_cmd("down", cmd_lab_down, "remove every container, network and volume of the lab")
    status = lab_cmd("status", cmd_lab_status, "show hosts, state and partitions")
    status.add_argument("--json", action="store_true")
    lab_cmd("mirror", cmd_lab_mirror, "start the artifact mirror on the lab network")
    for action in ("stop", "start", "kill", "partition", "heal"):
        p = lab_cmd(action, cmd_lab_fault, f"{action} a lab host")
        p.add_argument("host")
        p.set_defaults(action=action)

    art = sub.add_parser("artifacts", help="the artifact mirror tree").add_subparsers(dest="art_command", required=True)
    build = art.add_parser("build", help="build artifacts into the mirror tree (cached)")
    build.add_argument("components", nargs="*")
    build.add_argument("--force", action="store_true", help="rebuild even when cached")
    build.set_defaults(func=cmd_artifacts_build)
    art.add_parser("list", help="show what the mirror holds, with checksums").set_defaults(func=cmd_artifacts_list)

    def stack_cmd(name: str, func, help_text: str) -> argparse.ArgumentParser:  # noqa: ANN001
        p = sub.add_parser(name, help=help_text)
        p.add_argument("stack", help=", ".join(catalog.names()))
        p.add_argument("-i", "--inventory", help="an inventory file or directory (default: the stack's lab)")
        add_playbook_options(p)
        p.set_defaults(func=func)
        return p

    up_p = stack_cmd("up", cmd_up, "stand up a stack (on the lab when no inventory is given)")
    up_p.add_argument("--nodes", type=int, help="lab hosts (only without -i)")
    down_p = stack_cmd("down", cmd_down, "tear a stack down (the lab: remove its hosts; with -i: run its reset "
                                         "playbook, which removes everything the stack made on the hosts)")
    down_p.add_argument("--yes", action="store_true", help="do not ask before wiping the hosts of -i")
    stack_cmd("capacity", cmd_capacity, "measure each host and what the cluster offers (playbooks/capacity.yml)")
    stack_cmd("validate-ha", cmd_validate_ha, "take each leader down and measure the failover "
                                              "(playbooks/validate-ha.yml)")
    cmp_p = sub.add_parser("compare", help="evaluate both stacks the same way and write a report "
                                            "(on the labs when no inventory is given)")
    cmp_p.add_argument("-i", "--inventory", help="an inventory with the groups of one or both stacks")
    compared = ",".join(s.name for s in catalog.compared())
    cmp_p.add_argument("--stacks", default=compared, help=f"comma-separated (default: {compared})")
    cmp_p.add_argument("--instances", type=int, default=3, help="instances of the workload (default: 3)")
    cmp_p.add_argument("--out", help="parent directory of the run directory (default: results/compare)")
    cmp_p.add_argument("--faults", default="kill", help="ha_failover faults, comma-separated (default: kill)")
    cmp_p.add_argument("--skip", default="", help="step ids to leave out, comma-separated (e.g. failover,standup)")
    cmp_p.set_defaults(func=cmd_compare)
    from stackbench.compare.report import add_report_parser

    add_report_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except StackbenchError as exc:
        print(f"stackbench: error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"  hint: {exc.hint}", file=sys.stderr)
        return exc.exit_code
    except Exception as exc:  # noqa: BLE001 - last resort: one line, not a traceback
        if exc.__class__.__module__.startswith("docker"):
            print(f"stackbench: error: Docker said: {exc}", file=sys.stderr)
            print("  hint: check `docker info`; scripts/setup.sh starts the daemon", file=sys.stderr)
            return EXIT_FAILED
        raise
    except KeyboardInterrupt:
        print("stackbench: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
