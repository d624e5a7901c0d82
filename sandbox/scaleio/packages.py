"""Build the ScaleIO, REX-Ray and dvdcli packages and the DVDI isolator ``.so`` into a mirror dir.

Names, versions and file names follow scaleio-commands.md 2.1 / 6.3 / 7.1-7.2:

=============  ===============================================  =============================================
what           RHEL (``.rpm``)                                  Ubuntu (``.deb``)
=============  ===============================================  =============================================
ScaleIO comp.  ``EMC-ScaleIO-<c>-<v>.el7.x86_64.rpm``            ``EMC-ScaleIO-<c>-<v>.Ubuntu.16.04.x86_64.deb``
               (package ``EMC-ScaleIO-<c>``)                    (package ``emc-scaleio-<c>``)
gateway        ``EMC-ScaleIO-gateway-<v>.x86_64.rpm``            ``emc-scaleio-gateway_<v>_amd64.deb``
REX-Ray        ``rexray-<v>-1.x86_64.rpm``                       ``rexray_<v>-1_amd64.deb``
dvdcli         ``dvdcli-<v>-x86_64.rpm``                         ``dvdcli-<v>-x86_64.deb``
isolator       ``libmesos_dvdi_isolator-<mesos version>.so`` (one file for both families)
=============  ===============================================  =============================================

Programs inside the packages are the sandbox's Python tools (``tools.script_text``); services are
systemd units whose ``ExecStart`` runs the daemons of :mod:`.daemons`. Maintainer scripts are
:mod:`.pkgscripts`. The mirror (``sandbox.mirror.Mirror``) publishes each file's sha256.
"""
from __future__ import annotations

import os

from dcos_scaleio.sandbox.hosts import kmod
from dcos_scaleio.sandbox.hosts.families import UNIT_DIR
from dcos_scaleio.sandbox.hosts.packages import build_package
from dcos_scaleio.sandbox.scaleio import pkgscripts
from dcos_scaleio.sandbox.scaleio.tools import script_text

SCALEIO_VERSIONS = ("2.0-14000.231", "3.0-200.104")
DEFAULT_SCALEIO_VERSION = "3.0-200.104"
REXRAY_VERSIONS = ("0.11.4",)
DVDCLI_VERSIONS = ("0.2.1",)
MESOS_VERSIONS = ("1.0.1", "1.1.0", "1.2.1")
FAMILIES = ("ubuntu", "rhel")
# Kernels the SDC package carries a prebuilt scini module for. Anything else cannot load scini.
SUPPORTED_KERNELS = ("4.4.0-38-generic", "4.15.0-20-generic", "3.10.0-1160.el7.x86_64",
                     "3.10.0-957.el7.x86_64")
ISOLATOR_MODULE = "com_emccode_mesos_DockerVolumeDriverIsolator"


# What the real packages require from the distribution (scaleio-commands.md 2.2); dpkg/rpm refuse
# the install while these are missing, so the dependency phase must run first.
DEPENDS = {
    "ubuntu": {"all": ["libaio1", "numactl"], "gateway": ["openjdk-8-jre"]},
    "rhel": {"all": ["libaio", "numactl"], "gateway": ["java-1.8.0-openjdk"]},
}


def scaleio_depends(component: str, os_family: str) -> list[str]:
    deps = DEPENDS[os_family]
    return list(deps["all"]) + list(deps.get(component, []))


def package_name(component: str, os_family: str) -> str:
    return f"EMC-ScaleIO-{component}" if os_family == "rhel" else f"emc-scaleio-{component}"


def scaleio_filename(component: str, version: str, os_family: str) -> str:
    if os_family == "rhel":
        if component == "gateway":
            return f"EMC-ScaleIO-gateway-{version}.x86_64.rpm"
        return f"EMC-ScaleIO-{component}-{version}.el7.x86_64.rpm"
    if component == "gateway":
        return f"emc-scaleio-gateway_{version}_amd64.deb"
    return f"EMC-ScaleIO-{component}-{version}.Ubuntu.16.04.x86_64.deb"


def rexray_filename(version: str, os_family: str) -> str:
    return f"rexray-{version}-1.x86_64.rpm" if os_family == "rhel" else f"rexray_{version}-1_amd64.deb"


def dvdcli_filename(version: str, os_family: str) -> str:
    return f"dvdcli-{version}-x86_64.{'rpm' if os_family == 'rhel' else 'deb'}"


def isolator_filename(mesos_version: str) -> str:
    return f"libmesos_dvdi_isolator-{mesos_version}.so"


def unit_text(description: str, exec_start: str, *, after=(), wants=(), before=(),
              wanted_by="multi-user.target", type_: str = "notify") -> str:
    """A unit file. The sandbox daemons report readiness (``Type=notify``), so ``systemctl start``
    returns once they listen."""
    lines = ["[Unit]", f"Description={description}"]
    if wants:
        lines.append("Wants=" + " ".join(wants))
    lines.append("After=" + " ".join(("network.target",) + tuple(after)))
    if before:
        lines.append("Before=" + " ".join(before))
    lines += ["", "[Service]", f"Type={type_}", f"ExecStart={exec_start}", "TimeoutStartSec=60", "KillMode=process",
              "Restart=on-failure", "RestartSec=2", "", "[Install]", f"WantedBy={wanted_by}", ""]
    return "\n".join(lines)


def _exe(tool: str, *args: str) -> tuple[bytes, int]:
    return script_text(tool, *args).encode(), 0o755


def _scripts(component: str, version: str, os_family: str) -> dict:
    return {s: pkgscripts.script_source(component, s, version, os_family)
            for s in ("preinst", "postinst", "prerm", "postrm")}


def scaleio_files(component: str, version: str, os_family: str) -> dict:
    units = UNIT_DIR[os_family]
    base = f"/opt/emc/scaleio/{component}"
    files = {f"{base}/cfg/version": (f"{version}\n".encode(), 0o644)}
    if component == "mdm":
        files[f"{base}/bin/mdm"] = _exe("daemon", "mdm")
        files[f"{base}/bin/cli"] = _exe("scli")
        files["/usr/bin/scli"] = _exe("scli")
        files[f"{units}/mdm.service"] = (unit_text("EMC ScaleIO MDM", f"{base}/bin/mdm").encode(), 0o644)
    elif component == "sds":
        files[f"{base}/bin/sds"] = _exe("daemon", "sds")
        files[f"{units}/sds.service"] = (unit_text("EMC ScaleIO SDS", f"{base}/bin/sds").encode(), 0o644)
    elif component == "sdc":
        files[f"{base}/bin/drv_cfg"] = _exe("drv_cfg")
        files[f"{base}/bin/scini"] = _exe("daemon", "scini")
        for kernel in SUPPORTED_KERNELS:
            files[f"/lib/modules/{kernel}/extra/scini.ko"] = (kmod.module_file("scini", kernel), 0o644)
        files["/bin/emc/scaleio/scini_sync/driver_sync.conf"] = (
            b"# driver_sync: fetch scini modules for kernels the package lacks\n"
            b"repo_address=\nrepo_user=\nrepo_password=\n"
            b"local_dir=/bin/emc/scaleio/scini_sync/driver_cache/\nmodule_sigcheck=0\nsync_pattern=.*\n", 0o600)
        files[f"{units}/scini.service"] = (unit_text("EMC ScaleIO SDC driver (scini)", f"{base}/bin/scini")
                                           .encode(), 0o644)
    elif component == "lia":
        files[f"{base}/bin/lia"] = _exe("daemon", "lia")
        files[f"{units}/lia.service"] = (unit_text("EMC ScaleIO LIA", f"{base}/bin/lia").encode(), 0o644)
    elif component == "gateway":
        files[f"{base}/bin/scaleio-gateway"] = _exe("daemon", "scaleio-gateway")
        files[f"{units}/scaleio-gateway.service"] = (
            unit_text("EMC ScaleIO Gateway", f"{base}/bin/scaleio-gateway").encode(), 0o644)
    else:
        raise ValueError(f"unknown ScaleIO component {component!r}")
    return files


def build_scaleio(out_dir, component: str, version: str, os_family: str) -> str:
    return build_package(out_dir, package_name(component, os_family), version, os_family,
                         files=scaleio_files(component, version, os_family),
                         scripts=_scripts(component, version, os_family),
                         depends=scaleio_depends(component, os_family),
                         description=f"EMC ScaleIO {component.upper()} {version}",
                         filename=scaleio_filename(component, version, os_family))


def rexray_unit() -> str:
    return unit_text("rexray", "/usr/bin/rexray start", wants=("scini.service",), after=("scini.service",),
                     before=("docker.service",))


def build_rexray(out_dir, version: str, os_family: str) -> str:
    files = {"/usr/bin/rexray": _exe("rexray", f"--sandbox-version={version}"),
             f"{UNIT_DIR[os_family]}/rexray.service": (rexray_unit().encode(), 0o644)}
    return build_package(out_dir, "rexray", version, os_family, files=files,
                         scripts=_scripts("rexray", version, os_family),
                         description=f"REX-Ray {version}", filename=rexray_filename(version, os_family))


def build_dvdcli(out_dir, version: str, os_family: str) -> str:
    files = {"/usr/bin/dvdcli": _exe("dvdcli", f"--sandbox-version={version}")}
    return build_package(out_dir, "dvdcli", version, os_family, files=files,
                         scripts={"postinst": pkgscripts.script_source("dvdcli", "postinst", version, os_family)},
                         description=f"dvdcli {version}", filename=dvdcli_filename(version, os_family))


def isolator_bytes(mesos_version: str) -> bytes:
    """Recognisable stand-in for the module: the loader in the Mesos emulator checks these lines."""
    return (b"\x7fELF sandbox shared object\n"
            b"library: libmesos_dvdi_isolator\n"
            b"module: " + ISOLATOR_MODULE.encode() + b"\n"
            b"mesos_version: " + mesos_version.encode() + b"\n"
            b"dvdi_version: 0.4.7\n")


def build_isolator(out_dir, mesos_version: str) -> str:
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(str(out_dir), isolator_filename(mesos_version))
    with open(path, "wb") as fh:
        fh.write(isolator_bytes(mesos_version))
    return path


def build_all(out_dir, *, scaleio_versions=SCALEIO_VERSIONS, families=FAMILIES, rexray_versions=REXRAY_VERSIONS,
              dvdcli_versions=DVDCLI_VERSIONS, mesos_versions=MESOS_VERSIONS) -> dict:
    """Build every artifact. Returns a catalog ``{key: file name}`` with keys like
    ``"scaleio/3.0-200.104/rhel/sdc"``, ``"rexray/0.11.4/ubuntu"``, ``"dvdcli/0.2.1/rhel"``,
    ``"isolator/1.0.1"``."""
    catalog = {}
    for family in families:
        for version in scaleio_versions:
            for comp in pkgscripts.SCALEIO_COMPONENTS:
                catalog[f"scaleio/{version}/{family}/{comp}"] = os.path.basename(
                    build_scaleio(out_dir, comp, version, family))
        for version in rexray_versions:
            catalog[f"rexray/{version}/{family}"] = os.path.basename(build_rexray(out_dir, version, family))
        for version in dvdcli_versions:
            catalog[f"dvdcli/{version}/{family}"] = os.path.basename(build_dvdcli(out_dir, version, family))
    for mesos in mesos_versions:
        catalog[f"isolator/{mesos}"] = os.path.basename(build_isolator(out_dir, mesos))
    return catalog


# ------------------------------------------------------------------------------------------------
# DC/OS's bundled REX-Ray and dvdcli
# ------------------------------------------------------------------------------------------------
DCOS_REXRAY_VERSION = "0.11.2"
DCOS_DVDCLI_VERSION = "0.2.0"
DCOS_BIN = "/opt/mesosphere/bin"
DCOS_REXRAY_CONF = "/opt/mesosphere/etc/rexray.conf"
DCOS_REXRAY_UNIT = "/etc/systemd/system/dcos-rexray.service"


def dcos_bundled_storage_files() -> dict:
    """What DC/OS ships for external volumes, as ``{in-agent path: [text, mode]}`` (the form of the Mesos
    emulator's ``AgentSpec.files``): ``dcos-rexray`` (config copied from ``/opt/mesosphere/etc/rexray.conf``
    to ``/etc/rexray/config.yml`` at every start; not enabled until configured) and dvdcli, both under
    ``/opt/mesosphere/bin``."""
    unit = unit_text("REX-Ray: DC/OS bundled volume driver",
                     f"{DCOS_BIN}/rexray start --dcos-config {DCOS_REXRAY_CONF}",
                     wants=("scini.service",), after=("scini.service",))
    return {
        f"{DCOS_BIN}/rexray": [script_text("rexray", f"--sandbox-version={DCOS_REXRAY_VERSION}"), 0o755],
        f"{DCOS_BIN}/dvdcli": [script_text("dvdcli", f"--sandbox-version={DCOS_DVDCLI_VERSION}"), 0o755],
        "/opt/mesosphere/active/rexray/version": [f"{DCOS_REXRAY_VERSION}\n", 0o644],
        DCOS_REXRAY_CONF: ["# DC/OS REX-Ray configuration (rexray_config)\nrexray:\n  loglevel: info\n", 0o644],
        DCOS_REXRAY_UNIT: [unit, 0o644],
    }


def install_dcos_bundled_storage(root) -> None:
    """Write :func:`dcos_bundled_storage_files` into an AgentRoot (keeping an existing rexray.conf)."""
    for path, (text, mode) in dcos_bundled_storage_files().items():
        if path == DCOS_REXRAY_CONF and root.path(path).exists():
            continue
        target = root.path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        os.chmod(target, mode)
