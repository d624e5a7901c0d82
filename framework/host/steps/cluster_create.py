"""``cluster-create`` (primary MDM only): create the MDM cluster, replace the default admin
password, add standby managers and tie-breakers, switch to 3/5-node mode, rename the system.

Every action is preceded by ``scli --query_cluster`` and done only if the cluster lacks it, so a
re-run after a crash anywhere in the sequence picks up where it stopped (scaleio-commands.md 3.1).
The password is known to be set when a login with it succeeds; otherwise the default ``admin``
password is tried and changed. ``scli --password`` is the one place a secret appears in argv.
"""
from __future__ import annotations

from .. import services, validate as v
from ..step import Step, StepError
from . import scli
from .common import COMMON, spec

DEFAULT_PASSWORD = "admin"
MGMT_PORT = 6611


class ClusterCreate(Step):
    NAME = "cluster-create"
    PARAMS = spec(COMMON, primary_ip=(v.ip, True), primary_name=(v.scaleio_name, False),
                  cluster_mode=(v.one_of("3_node", "5_node"), True), system_name=(v.scaleio_name, True),
                  standby_managers=(v.members, True), tiebreakers=(v.members, True))

    def primary_name(self, ctx) -> str:
        name = ctx.params.get("primary_name") or ctx.params.get("hostname")
        try:
            return v.scaleio_name(name)
        except ValueError:
            raise StepError("primary_name (or a hostname usable as a ScaleIO name) is required",
                            retryable=False) from None

    def check(self, ctx):
        p = ctx.params
        expected = 1 + 2 * len(p["standby_managers"])
        if len(p["standby_managers"]) != len(p["tiebreakers"]) or f"{expected}_node" != p["cluster_mode"]:
            raise StepError(f"{p['cluster_mode']} needs {int(p['cluster_mode'][0]) // 2} standby manager(s) "
                            f"and as many tie-breakers", retryable=False)
        self.primary_name(ctx)
        ctx.secret("admin_password")
        st = scli.query_cluster(ctx.host)
        return self.missing(ctx, st)

    def missing(self, ctx, st) -> list:
        p = ctx.params
        if not st.attached:
            return ["create", "members", "mode", "name"]
        todo = []
        managers = [m["ip"] for m in p["standby_managers"]]
        tbs = [m["ip"] for m in p["tiebreakers"]]
        if any(st.section_of(ip) not in ("slaves", "master") for ip in managers) or \
                any(st.section_of(ip) != "tiebreakers" for ip in tbs):
            todo += ["members", "mode"]
        elif st.mode != p["cluster_mode"]:
            todo.append("mode")
        if st.name != p["system_name"]:
            todo.append("name")
        return todo

    # ------------------------------------------------------------------ act
    def act(self, ctx, todo):
        p, host = ctx.params, ctx.host
        with scli.locked():
            try:
                st = scli.query_cluster(host)
                if not st.attached:
                    self.run(ctx, "--create_mdm_cluster", "--master_mdm_ip", p["primary_ip"],
                             "--master_mdm_management_ip", p["primary_ip"], "--master_mdm_name",
                             self.primary_name(ctx), "--accept_license", "--approve_certificate")
                    ctx.changed(f"created the MDM cluster with master {p['primary_ip']}")
                if not services.wait_port(MGMT_PORT, 30):
                    raise StepError(f"the MDM does not listen on TCP {MGMT_PORT} after cluster creation")
                self.login(ctx)
                st = scli.query_cluster(host)
                for role, members in (("manager", p["standby_managers"]), ("tb", p["tiebreakers"])):
                    for m in members:
                        if st.section_of(m["ip"]) is None:
                            extra = ["--new_mdm_management_ip", m["ip"]] if role == "manager" else []
                            self.run(ctx, "--add_standby_mdm", "--new_mdm_ip", m["ip"], "--mdm_role", role,
                                     *extra, "--new_mdm_name", m["name"], "--approve_certificate")
                            ctx.changed(f"added standby {role} {m['name']} ({m['ip']})")
                st = self.switch_mode(ctx)
                if st.name != p["system_name"]:
                    self.run(ctx, "--rename_system", "--new_name", p["system_name"])
                    ctx.changed(f"renamed the system to {p['system_name']}")
            finally:
                scli.scli(host, "--logout")

    def switch_mode(self, ctx):
        """Switch to the wanted mode if needed; returns the cluster state read before the switch."""
        p = ctx.params
        st = scli.query_cluster(ctx.host)
        if st.mode == p["cluster_mode"]:
            return st
        standby_by_ip = {ip: m["name"] for m in st.members.get("standbys", []) for ip in m["ips"]}
        slaves = [standby_by_ip[m["ip"]] for m in p["standby_managers"] if m["ip"] in standby_by_ip]
        tbs = [standby_by_ip[m["ip"]] for m in p["tiebreakers"] if m["ip"] in standby_by_ip]
        args = ["--switch_cluster_mode", "--cluster_mode", p["cluster_mode"]]
        if slaves:
            args += ["--add_slave_mdm_name", ",".join(slaves)]
        if tbs:
            args += ["--add_tb_name", ",".join(tbs)]
        self.run(ctx, *args)
        ctx.changed(f"switched the cluster to {p['cluster_mode']}")
        return st          # the system name is not affected by a mode switch

    def login(self, ctx):
        """Log in with the real password, replacing the default one first if needed."""
        password = ctx.secret("admin_password")
        r = scli.scli(ctx.host, "--login", "--username", "admin", "--password", password)
        if r.ok:
            return
        if "Failed to connect" in r.text:
            raise StepError(ctx.host.failure(r, "scli --login"))          # the MDM is not reachable: retry
        if password == DEFAULT_PASSWORD:
            raise StepError("the admin password must not be the default one", retryable=False)
        r = scli.scli(ctx.host, "--login", "--username", "admin", "--password", DEFAULT_PASSWORD)
        if not r.ok:
            raise StepError(ctx.host.failure(r, "scli --login") + " (neither the configured nor the default "
                            "admin password is accepted)", retryable=False)
        self.run(ctx, "--set_password", "--old_password", DEFAULT_PASSWORD, "--new_password", password)
        ctx.changed("replaced the default admin password")
        self.run(ctx, "--login", "--username", "admin", "--password", password)

    @staticmethod
    def run(ctx, *args):
        r = scli.scli(ctx.host, *args)
        if not r.ok:
            raise StepError(ctx.host.failure(r, f"scli {args[0]}"))
        return r

    # ------------------------------------------------------------------ verify
    def verify(self, ctx):
        st = scli.query_cluster(ctx.host)
        left = self.missing(ctx, st)
        if left:
            raise StepError(f"the MDM cluster still lacks: {', '.join(left)} (mode {st.mode or 'none'})")
        with scli.locked():
            r = scli.scli(ctx.host, "--login", "--username", "admin", "--password", ctx.secret("admin_password"))
            scli.scli(ctx.host, "--logout")
        if not r.ok:
            raise StepError(ctx.host.failure(r, "scli --login with the configured password"), retryable=False)
        ctx.fact("cluster", {"mode": st.mode, "name": st.name, "system_id": st.system_id,
                             "members": {k: [m["name"] for m in ms] for k, ms in st.members.items()}})
