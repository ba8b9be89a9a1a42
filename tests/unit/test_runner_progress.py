"""The progress view, fed events of the shapes ansible-runner sends (captured from real runs)."""

import io

from stackbench.runner import DIFF_SCREEN_LINES, Progress, render_diff


def _progress(**kwargs):
    now = [0.0]
    out, log = io.StringIO(), io.StringIO()
    progress = Progress(out=out, log=log, clock=lambda: now[0], **kwargs)
    return progress, now, out, log


def _task(progress, name, uuid):
    progress.handle({"event": "playbook_on_task_start", "event_data": {"task": name, "task_uuid": uuid}})


def _ok(progress, host, name, uuid, **res):
    progress.handle({"event": "runner_on_ok", "event_data": {"host": host, "task": name, "task_uuid": uuid,
                                                            "res": res}})


def test_retries_of_until_loops_are_one_line_each_with_the_time_waited():
    progress, now, out, _ = _progress()
    _task(progress, "Wait for quorum", "t1")
    now[0] = 12
    # runner_retry as ansible-runner sends it: attempts so far, retries = the task's retries + 1
    progress.handle({"event": "runner_retry", "event_data": {
        "host": "zk1", "task": "Wait for quorum", "task_uuid": "t1",
        "res": {"attempts": 3, "retries": 30, "rc": 1, "msg": "non-zero return code"}}})
    assert "[00:12]     retry 3/30 (12 s) zk1: Wait for quorum" in out.getvalue().splitlines()


def test_changed_hosts_of_a_task_are_one_line_when_the_task_is_over():
    progress, _, out, _ = _progress()
    _task(progress, "Template zoo.cfg", "t1")
    _ok(progress, "zk1", "Template zoo.cfg", "t1", changed=True)
    _ok(progress, "zk2", "Template zoo.cfg", "t1", changed=False)
    _ok(progress, "zk3", "Template zoo.cfg", "t1", changed=True)
    assert "changed" not in out.getvalue()  # not before the task is over
    _task(progress, "Start ZooKeeper", "t2")
    lines = out.getvalue().splitlines()
    assert lines == ["[00:00]   Template zoo.cfg", "[00:00]     changed zk1, zk3", "[00:00]   Start ZooKeeper"]


def test_the_last_task_changes_are_shown_before_the_recap():
    progress, _, out, _ = _progress()
    _task(progress, "Last", "t1")
    _ok(progress, "zk1", "Last", "t1", changed=True)
    progress.handle({"event": "playbook_on_stats", "event_data": {"ok": {"zk1": 1}, "changed": {"zk1": 1}}})
    progress.print_recap()
    text = out.getvalue()
    assert text.index("changed zk1") < text.index("RECAP")


def test_check_mode_says_would_change():
    progress, _, out, _ = _progress(check=True)
    _task(progress, "Template zoo.cfg", "t1")
    _ok(progress, "zk1", "Template zoo.cfg", "t1", changed=True)
    progress.handle({"event": "playbook_on_stats", "event_data": {"ok": {"zk1": 1}, "changed": {"zk1": 1}}})
    progress.print_recap()
    text = out.getvalue()
    assert "    would change zk1" in text and "would change=1" in text
    assert "    changed zk1" not in text


def test_diff_of_a_changed_task_is_shown_indented_with_diff_only():
    diff = [{"before": "tickTime=2000\nclientPort=2181\n", "after": "tickTime=3000\nclientPort=2181\n",
             "before_header": "/etc/zookeeper/zoo.cfg", "after_header": "/etc/zookeeper/zoo.cfg"}]
    for wanted in (True, False):
        progress, _, out, _ = _progress(diff=wanted)
        _task(progress, "Template zoo.cfg", "t1")
        _ok(progress, "zk1", "Template zoo.cfg", "t1", changed=True, diff=diff)
        progress.print_recap()
        text = out.getvalue()
        assert ("      -tickTime=2000" in text and "      +tickTime=3000" in text) is wanted
        assert "{" not in text  # no JSON


def test_render_diff_handles_prepared_dict_and_binary_diffs():
    assert render_diff({"prepared": "--- a\n+++ b\n-x\n+y\n"}) == ["--- a", "+++ b", "-x", "+y"]
    lines = render_diff({"before": {"path": "/d", "state": "absent"}, "after": {"path": "/d", "state": "directory"}})
    assert '-  "state": "absent"' in lines and '+  "state": "directory"' in lines
    assert render_diff({"dst_binary": 1}) == ["diff skipped: destination file appears to be binary"]
    assert render_diff({"before": "same\n", "after": "same\n"}) == []
    assert render_diff(None) == []


def test_a_long_diff_is_cut_on_screen_and_kept_whole_in_the_log():
    after = "".join(f"line {n}\n" for n in range(100))
    progress, _, out, log = _progress(diff=True)
    _task(progress, "Write", "t1")
    _ok(progress, "zk1", "Write", "t1", changed=True, diff={"before": "", "after": after})
    progress.print_recap()
    assert "+line 99" not in out.getvalue() and "more lines in events.log" in out.getvalue()
    assert "+line 99" in log.getvalue()
    assert len(out.getvalue().splitlines()) < DIFF_SCREEN_LINES + 10


def test_unreachable_host_is_one_line_with_a_hint():
    progress, _, out, _ = _progress(inventory="inventories/lab/h1.yml")
    progress.handle({"event": "runner_on_unreachable", "event_data": {
        "host": "zk2", "task": "Gather facts", "res": {
            "unreachable": True, "changed": False,
            "msg": "Task failed: Failed to connect to the host via ssh: Connection timed out during banner "
                   "exchange\r\nConnection to 10.255.255.1 port 22 timed out"}}})
    lines = out.getvalue().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("[00:00]     UNREACHABLE zk2: Gather facts: Task failed: Failed to connect")
    assert "check ansible_host/ansible_user/ssh key; ansible -i inventories/lab/h1.yml zk2 -m ping" in lines[0]
    assert progress.failures and progress.failures[0].startswith("zk2: Gather facts")


def test_failure_shows_the_whole_first_line_and_logs_the_rest():
    first = "Preflight refused: " + "x" * 400
    progress, _, out, log = _progress()
    progress.handle({"event": "runner_on_failed", "event_data": {
        "host": "zk1", "task": "Preflight", "res": {"msg": f"{first}\nsecond line\nthird line"}}})
    assert out.getvalue().splitlines() == [f"[00:00]     FAILED zk1: Preflight: {first}"]
    assert progress.failures == [f"zk1: Preflight: {first}"]
    assert "second line" in log.getvalue() and "third line" in log.getvalue()


def test_a_failed_loop_names_its_first_failed_item():
    progress, _, out, _ = _progress()
    items = [{"failed": False}, {"failed": True, "msg": "port 2181 taken"}]
    progress.handle({"event": "runner_on_failed", "event_data": {"host": "zk1", "task": "Check ports", "res": {
        "msg": "One or more items failed", "results": items}}})
    assert "FAILED zk1: Check ports: port 2181 taken" in out.getvalue()


def test_ansible_playbook_errors_outside_tasks_are_failures():
    # a bad -e: no task ran; ansible-playbook says why in `verbose` events
    progress, _, out, log = _progress()
    for line in ("[WARNING]: Unable to parse x as an inventory source",
                 "[ERROR]: YAML parsing failed: While parsing a flow mapping did not find expected ',' or '}'.",
                 "Origin: <CLI option '-e'>:2:1", ""):
        progress.handle({"event": "verbose", "stdout": line})
    assert out.getvalue().splitlines() == [
        "[00:00]     ERROR YAML parsing failed: While parsing a flow mapping did not find expected ',' or '}'."]
    assert progress.failures[0].startswith("ansible-playbook: YAML parsing failed")
    assert "Origin: <CLI option '-e'>" in log.getvalue() and "Unable to parse x" in log.getvalue()


def test_every_event_has_a_line_in_the_log():
    progress, _, out, log = _progress()
    events = [
        {"event": "playbook_on_start", "event_data": {"playbook": "zookeeper.yml"}},
        {"event": "playbook_on_play_start", "event_data": {"play": "ZooKeeper"}},
        {"event": "playbook_on_task_start", "event_data": {"task": "Install", "task_uuid": "t1"}},
        {"event": "runner_on_start", "event_data": {"host": "zk1", "task": "Install", "task_uuid": "t1"}},
        {"event": "runner_on_skipped", "event_data": {"host": "zk2", "task": "Install", "task_uuid": "t1"}},
        {"event": "runner_on_ok", "event_data": {"host": "zk1", "task": "Install", "task_uuid": "t1", "res": {}}},
        {"event": "runner_on_failed", "event_data": {"host": "zk3", "task": "Install", "task_uuid": "t1",
                                                     "ignore_errors": True, "res": {"msg": "probe failed"}}},
        {"event": "playbook_on_stats", "event_data": {"ok": {"zk1": 1}}},
    ]
    for event in events:
        progress.handle(event)
    logged = log.getvalue()
    for word in ("runner_on_start zk1 Install", "runner_on_skipped zk2 Install", "ok zk1: Install",
                 "failed (ignored) zk3: Install: probe failed", "STATS", "playbook_on_start zookeeper.yml"):
        assert word in logged, word
    assert "probe failed" not in out.getvalue()  # ignored errors stay off the terminal


def test_verbose_shows_what_ansible_printed_for_each_result():
    quiet, _, quiet_out, _ = _progress()
    loud, _, loud_out, _ = _progress(verbosity=1)
    event = {"event": "runner_on_ok", "stdout": "ok: [zk1] => {\"changed\": false}",
             "event_data": {"host": "zk1", "task": "Probe", "task_uuid": "t1", "res": {"changed": False}}}
    quiet.handle(event)
    loud.handle(event)
    assert quiet_out.getvalue() == ""
    assert 'ok: [zk1] => {"changed": false}' in loud_out.getvalue()


def test_a_failed_role_argument_check_shows_the_error_not_its_introduction():
    # the shape of a real event: `-e zookeeper_client_port=notaport` against the zookeeper role
    progress, _, out, _ = _progress()
    progress.handle({"event": "runner_on_failed", "event_data": {
        "host": "zo1", "task": "Validating arguments against arg spec 'main' - Apache ZooKeeper ensemble",
        "res": {"validate_args_context": {"type": "role", "name": "zookeeper", "argument_spec_name": "main"},
                "msg": "Validation of arguments failed:\nargument 'zookeeper_client_port' is of type str and we "
                       "were unable to convert to int: \"'notaport'\" cannot be converted to an int",
                "argument_errors": ["argument 'zookeeper_client_port' is of type str ..."]}}})
    assert progress.failures == [
        "zo1: arguments of role zookeeper: Validation of arguments failed: argument 'zookeeper_client_port' is of "
        "type str and we were unable to convert to int: \"'notaport'\" cannot be converted to an int"]
    assert len(out.getvalue().splitlines()) == 1


def test_verbose_leaves_profile_tasks_stamps_to_the_log():
    progress, _, out, log = _progress(verbosity=1)
    stamp = "Tuesday 01 December 2026  16:30:41 +0000 (0:00:00.071)       0:00:00.071 ******"
    progress.handle({"event": "verbose", "stdout": stamp})
    progress.handle({"event": "verbose", "stdout": "Using /work/main/ansible.cfg as config file"})
    assert out.getvalue() == "      Using /work/main/ansible.cfg as config file\n"
    assert stamp in log.getvalue()


def test_a_delegated_change_names_the_host_it_ran_on():
    # as a real event of roles/zookeeper's rolling restart (delegate_to the member)
    progress, _, out, _ = _progress()
    _task(progress, "Restart ZooKeeper on zo2", "t1")
    progress.handle({"event": "runner_on_ok", "stdout": "changed: [zo1 -> zo2(172.29.2.12)]", "event_data": {
        "host": "zo1", "task": "Restart ZooKeeper on zo2", "task_uuid": "t1", "res": {
            "changed": True, "_ansible_delegated_vars": {"ansible_host": "172.29.2.12", "ansible_user": "x"}}}})
    progress.print_recap()
    assert "    changed zo1 -> zo2" in out.getvalue().splitlines()[-1]


def test_what_a_debug_task_prints_is_shown():
    # capacity.yml's table, as its real event carries it
    progress, _, out, _ = _progress()
    progress.handle({"event": "runner_on_ok", "event_data": {
        "host": "localhost", "task": "Show the capacity table", "task_uuid": "t1",
        "task_action": "ansible.builtin.debug", "res": {"changed": False, "msg": [
            "host  cpus  mem GiB", "----  ----  -------", "zo1   2     23.5"]}}})
    assert out.getvalue().splitlines() == [
        "      host  cpus  mem GiB", "      ----  ----  -------", "      zo1   2     23.5"]


def test_a_debug_text_is_named_by_its_host():
    progress, _, out, _ = _progress()
    progress.handle({"event": "runner_on_ok", "event_data": {
        "host": "et1", "task": "Say", "task_uuid": "t1", "task_action": "ansible.builtin.debug",
        "res": {"changed": False, "msg": "Check mode on et1: the preflight passed"}}})
    assert out.getvalue() == "      et1: Check mode on et1: the preflight passed\n"


def test_the_recap_counts_unreachable_hosts_from_ansible_runners_dark():
    progress, _, out, _ = _progress()
    progress.handle({"event": "playbook_on_stats", "event_data": {  # a real stats event's keys
        "changed": {}, "dark": {"zo1": 1}, "failures": {}, "ignored": {}, "ok": {"zo1": 1, "localhost": 2},
        "processed": {"zo1": 1, "localhost": 1}, "rescued": {}, "skipped": {"localhost": 1}}})
    progress.print_recap()
    zo1 = [line for line in out.getvalue().splitlines() if line.strip().startswith("zo1")][0]
    assert zo1.split()[-1] == "unreachable=1"


def test_an_unreachable_host_shows_sshs_reason_not_its_known_hosts_note():
    progress, _, out, _ = _progress()
    progress.handle({"event": "runner_on_unreachable", "event_data": {"host": "zo2", "task": "Gathering Facts", "res": {
        "unreachable": True, "msg": "Task failed: Failed to connect to the host via ssh: Warning: Permanently added "
                                    "'172.29.2.12' (ED25519) to the list of known hosts.\r\n"
                                    "stackbench@172.29.2.12: Permission denied (publickey,password)."}}})
    assert ("UNREACHABLE zo2: Gathering Facts: Task failed: Failed to connect to the host via ssh: "
            "stackbench@172.29.2.12: Permission denied (publickey,password).") in out.getvalue()
