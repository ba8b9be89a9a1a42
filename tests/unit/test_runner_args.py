"""The ansible-playbook arguments a run is given, built in one place, and the password answers."""

import importlib.util
import os
import re
import shlex
from pathlib import Path

import pytest

from stackbench.errors import StackbenchError
from stackbench.runner import BECOME_PROMPT, SSH_PROMPT, PlaybookOptions, mitogen_env, playbook_args


def test_every_option_becomes_the_ansible_playbook_argument(tmp_path):
    (tmp_path / "id_ed25519").write_text("key")
    options = PlaybookOptions(check=True, diff=True, limit="zk1", tags=["config", "service"], skip_tags=["java"],
                              extra_vars=["a=1 b=2"], verbosity=3, become=True, become_user="zookeeper",
                              ask_become_pass=True, ask_pass=True, user="admin", private_key="id_ed25519", forks=5)
    args = playbook_args(options, cwd=tmp_path)
    assert args == ["-e", "a=1 b=2", "--check", "--diff", "--become", "--ask-pass", "--ask-become-pass",
                    "--limit", "zk1", "--tags", "config", "--tags", "service", "--skip-tags", "java",
                    "--become-user", "zookeeper", "--user", "admin", "--private-key", str(tmp_path / "id_ed25519"),
                    "--forks", "5", "-vvv"]


def test_extra_vars_keep_their_form_and_order_after_stackbenchs_own(tmp_path):
    options = PlaybookOptions(extra_vars=["@vars.yml", "zookeeper_tick_time=2000 zookeeper_init_limit=5",
                                          '{"zookeeper_servers": [1, 2]}', "ha_systems: [zookeeper]"])
    args = playbook_args(options, {"ha_systems": ["zookeeper", "etcd"]}, cwd=tmp_path)
    assert args == ["-e", '{"ha_systems": ["zookeeper", "etcd"]}',  # first: the operator's -e wins
                    "-e", f"@{tmp_path / 'vars.yml'}",  # ansible-runner runs from the repo: made absolute
                    "-e", "zookeeper_tick_time=2000 zookeeper_init_limit=5",
                    "-e", '{"zookeeper_servers": [1, 2]}', "-e", "ha_systems: [zookeeper]"]
    # ansible-runner shlex-splits cmdline: every form comes back whole
    assert shlex.split(shlex.join(args)) == args


def test_no_options_no_arguments():
    assert playbook_args(None) == [] and playbook_args(PlaybookOptions()) == []


def test_a_missing_extra_vars_file_is_a_usage_error(tmp_path):
    with pytest.raises(StackbenchError) as exc:
        PlaybookOptions(extra_vars=["a=1", "@nope.yml"]).validate(tmp_path)
    assert exc.value.exit_code == 2 and "nope.yml" in exc.value.message and "\n" not in exc.value.message
    (tmp_path / "there.yml").write_text("a: 1\n")
    PlaybookOptions(extra_vars=["@there.yml"]).validate(tmp_path)


def test_a_missing_private_key_or_zero_forks_is_a_usage_error(tmp_path):
    for options in (PlaybookOptions(private_key="nokey"), PlaybookOptions(forks=0)):
        with pytest.raises(StackbenchError) as exc:
            options.validate(tmp_path)
        assert exc.value.exit_code == 2


def test_passwords_answer_the_prompts_ansible_playbook_prints():
    options = PlaybookOptions(ask_pass=True, ask_become_pass=True, ssh_password="sshpw", become_password="becomepw")
    answers = options.passwords()
    assert answers == {SSH_PROMPT: "sshpw", BECOME_PROMPT: "becomepw"}
    # the prompts of ansible-core's -k / -K (ansible-runner matches them with re.M)
    assert re.search(SSH_PROMPT, "SSH password: ", re.M)
    assert re.search(BECOME_PROMPT, "BECOME password[defaults to SSH password]: ", re.M)
    assert re.search(BECOME_PROMPT, "BECOME password: ", re.M)
    assert not re.search(SSH_PROMPT, "BECOME password: ", re.M)
    assert PlaybookOptions(become_password="x").passwords() == {}  # not asked: nothing to answer


def test_passwords_are_not_in_the_arguments_or_the_repr():
    options = PlaybookOptions(ask_become_pass=True, become_password="s3cret")
    assert "s3cret" not in " ".join(playbook_args(options)) and "s3cret" not in repr(options)


def test_mitogen_runs_its_linear_strategy_from_the_installed_package(monkeypatch):
    monkeypatch.setenv("ANSIBLE_STRATEGY_PLUGINS", "/site/strategies")
    env = mitogen_env()
    assert env["ANSIBLE_STRATEGY"] == "mitogen_linear"
    first, given = env["ANSIBLE_STRATEGY_PLUGINS"].split(os.pathsep)
    assert (Path(first) / "mitogen_linear.py").is_file() and given == "/site/strategies"
    PlaybookOptions(mitogen=True).validate()
    assert playbook_args(PlaybookOptions(mitogen=True)) == []  # an environment choice, not an argument


def test_mitogen_not_installed_is_a_usage_error_before_any_run(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(StackbenchError) as exc:
        PlaybookOptions(mitogen=True).validate()
    assert exc.value.exit_code == 2 and "mitogen" in exc.value.message and "stackbench[mitogen]" in exc.value.hint
