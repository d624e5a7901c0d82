"""The shipped CLI as tests run it: ``Result`` of one command, and ``run_plugin`` running the
unpacked binary (``env/bin/dcos-scaleio``) as the DC/OS CLI runs a plugin (``dcos-scaleio scaleio ...``)."""
from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self):
        return json.loads(self.out)


def run_plugin(binary, argv, *, env: dict, timeout: float = 60) -> Result:
    proc = subprocess.run([str(binary), "scaleio", *argv], env=env, capture_output=True, text=True,
                          timeout=timeout)
    return Result(proc.returncode, proc.stdout, proc.stderr)
