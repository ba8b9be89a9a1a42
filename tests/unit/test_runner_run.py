"""run_playbook for real: ansible-playbook through ansible-runner on local-connection hosts."""

import io
import json
import sys

import pytest
import yaml

from stackbench.runner import PlaybookOptions, run_playbook

PLAYBOOK = """
- name: Local
  hosts: all
  gather_facts: false
  tasks:
    - name: Write the greeting
      ansible.builtin.copy:
        dest: "{{ out_file }}"
        content: "{{ greeting }} {{ a | default('-') }} {{ b | default('-') }} {{ c | default('-') }}\\n"
        mode: "0644"
    - name: Wait a little
      ansible.builtin.command: "false"
      register: waited
      until: waited.rc == 0
      retries: 1
      delay: 1
      changed_when: false
      ignore_errors: true
      when: fail_on_purpose | default(false)
    - name: Refuse
      ansible.builtin.fail:
        msg: "{{ 'first line ' ~ ('x' * 350) ~ '\\nsecond line of the message' }}"
      when: fail_on_purpose | default(false)
"""


@pytest.fixture
def local(tmp_path, monkeypatch):
    monkeypatch.setenv("STACKBENCH_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("MY_API_TOKEN", "tokenvalue123")  # inherited env: must not land in the record
    monkeypatch.chdir(tmp_path)
    (tmp_path / "site.yml").write_text(PLAYBOOK)
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(yaml.safe_dump({"all": {"hosts": {"local1": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable}}}}))
    (tmp_path / "vars.yml").write_text("greeting: from-file\n")
    return tmp_path, inventory


def _files(run_dir):
    return {p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*") if p.is_file()}


def test_a_run_keeps_its_record_and_every_extra_vars_form_works(local):
    tmp, inventory = local
    out = io.StringIO()
    options = PlaybookOptions(diff=True, extra_vars=["@vars.yml", "a=1 b=2", '{"c": [1, 2]}'],
                              ask_become_pass=True, become_password="pw-s3cret-42")
    result = run_playbook(str(tmp / "site.yml"), inventory, {"greeting": "stackbench-default",
                                                             "out_file": str(tmp / "out.txt")},
                          label="up-local", out=out, options=options, timeout=240)
    assert result.rc == 0, out.getvalue()
    # relative @file from the user's directory; the operator's -e beat stackbench's own
    assert (tmp / "out.txt").read_text() == "from-file 1 2 [1, 2]\n"
    run_dir = result.run_dir
    assert run_dir.parent == tmp / "results" / "runs" and run_dir.name.endswith("Z-up-local")
    files = _files(run_dir)
    assert {"stdout", "command", "rc", "status", "events.log", "timings.json"} <= files
    assert any(f.startswith("job_events/") and f.endswith(".json") for f in files)
    assert result.timings_file == run_dir / "timings.json"
    assert json.loads((run_dir / "timings.json").read_text())["duration_seconds"] >= 0
    text = out.getvalue()
    assert "changed local1" in text and "+from-file 1 2 [1, 2]" in text  # --diff shown
    assert result.changed == 1
    for path in run_dir.rglob("*"):  # the password was answered (the run went on) and written nowhere
        if path.is_file():
            content = path.read_text(errors="replace")
            assert "pw-s3cret-42" not in content and "tokenvalue123" not in content, path
    events = (run_dir / "events.log").read_text()
    assert "changed local1: Write the greeting" in events and "STATS" in events
    command = json.loads((run_dir / "command").read_text())
    assert "--ask-become-pass" in command["command"] and "MY_API_TOKEN" not in command["env"]

    again = run_playbook(str(tmp / "site.yml"), inventory, {"greeting": "x", "out_file": str(tmp / "out.txt")},
                         label="up-local", out=io.StringIO(), options=PlaybookOptions(check=True), timeout=240)
    assert again.run_dir != run_dir and again.check and again.changed == 1  # would change it back


def test_a_failed_run_reports_the_whole_first_line_and_keeps_the_rest(local):
    tmp, inventory = local
    out = io.StringIO()
    result = run_playbook(str(tmp / "site.yml"), inventory, {"greeting": "hi", "out_file": str(tmp / "out.txt"),
                                                             "fail_on_purpose": True},
                          label="up-local", out=out, options=PlaybookOptions(), timeout=240)
    assert result.rc != 0
    text = out.getvalue()
    assert "retry 1/2" in text and "local1: Wait a little" in text  # the real runner_retry event
    first = "first line " + "x" * 350
    assert result.failures == [f"local1: Refuse: {first}"]  # whole, not cut at 300
    assert f"FAILED local1: Refuse: {first}\n" in text and "second line" not in text
    events = (result.run_dir / "events.log").read_text()
    assert "second line of the message" in events and "failed (ignored) local1: Wait a little" in events
    assert (result.run_dir / "rc").read_text().strip() == str(result.rc)



def test_with_mitogen_the_module_runs_in_a_mitogen_interpreter(local):
    tmp, inventory = local
    (tmp / "parent.yml").write_text("""
- name: Who runs the module
  hosts: all
  gather_facts: false
  tasks:
    - name: The module's parent process
      ansible.builtin.shell: "ps -o args= -p $PPID > {{ out_file }}"
      changed_when: false
""")
    for mitogen, expected in ((False, "AnsiballZ_command"), (True, "(mitogen:")):
        out_file = tmp / f"parent-{mitogen}.txt"
        result = run_playbook(str(tmp / "parent.yml"), inventory, {"out_file": str(out_file)},
                              out=io.StringIO(), options=PlaybookOptions(mitogen=mitogen))
        assert result.rc == 0 and expected in out_file.read_text(), out_file.read_text()
    env = json.loads((result.run_dir / "command").read_text())["env"]
    assert env["ANSIBLE_STRATEGY"] == "mitogen_linear"
