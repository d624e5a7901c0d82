"""Parameters and helpers shared by several steps."""
from __future__ import annotations

from .. import validate as v

# Every step accepts these (the scheduler sends them with every step).
COMMON = {
    "os_family": (v.one_of("ubuntu", "rhel"), False),
    "hostname": (v.hostname, False),
    "flavour": (v.one_of("mesos", "dcos"), False, "mesos"),
    # TLS verification of artifact downloads (the mirror); on unless configured off.
    "artifact_tls_verify": (v.boolean, False, True),
}
# Steps that install ScaleIO packages.
SCALEIO = {
    **COMMON,
    "scaleio_version": (v.scaleio_version, True),
    "packages": (v.packages, False, {}),
}


def spec(*parts: dict, **extra) -> dict:
    out = {}
    for part in parts:
        out.update(part)
    out.update(extra)
    return out
