"""Controller side of install_files (the documentation is in plugins/modules/install_files.py).

Reads every `src` on the controller, the way ansible.builtin.copy finds it (role files/, playbook
dir, absolute paths; vault-encrypted files decrypted), and hands all contents, base64-encoded, to
the module in one call. The module compares and writes on the host.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from ansible.errors import AnsibleError
from ansible.plugins.action import ActionBase


class ActionModule(ActionBase):
    TRANSFERS_FILES = False  # the contents travel in the module's arguments

    def _read_src(self, src: str) -> bytes:
        path = self._find_needle("files", src)
        real = self._loader.get_real_file(path, decrypt=True)
        try:
            with open(real, "rb") as handle:
                return handle.read()
        finally:
            self._loader.cleanup_tmp_file(real)

    def module_args(self, args: Mapping[str, Any]) -> dict[str, Any]:
        """The task's arguments with each `src` replaced by its content (raises AnsibleError)."""
        new_args = dict(args)
        files = args.get("files")
        if not isinstance(files, list):
            raise AnsibleError("install_files: files must be a list of dicts")
        out = []
        for item in files:
            if not isinstance(item, Mapping):
                raise AnsibleError(f"install_files: every files item is a dict, not {item!r}")
            item = dict(item)
            src = item.pop("src", None)
            if src is not None:
                if item.get("content") is not None:
                    raise AnsibleError(f"install_files: {item.get('dest')}: give src or content, not both")
                try:
                    data = self._read_src(str(src))
                except AnsibleError as exc:
                    raise AnsibleError(f"install_files: {item.get('dest')}: cannot read src {src}: {exc}") from exc
                item["content"] = base64.b64encode(data).decode("ascii")
                item["encoding"] = "base64"
            out.append(item)
        new_args["files"] = out
        if self._task.no_log:
            new_args["diff_content"] = False
        return new_args

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        del tmp
        try:
            args = self.module_args(self._task.args)
        except AnsibleError as exc:
            result.update(failed=True, changed=False, msg=str(exc.message))
            return result
        result.update(self._execute_module(module_name="stackbench.cluster.install_files", module_args=args,
                                           task_vars=task_vars))
        self._remove_tmp_path(self._connection._shell.tmpdir)
        return result
