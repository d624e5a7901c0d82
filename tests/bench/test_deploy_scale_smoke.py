"""Smoke test of bench/deploy_scale.py: a 10-agent deploy of the real scheduler against simulated
agents completes and the report is well formed. No timing assertions (the bench reports timings)."""
import importlib.util
import pathlib

import pytest

pytestmark = [pytest.mark.sandbox]

BENCH = pathlib.Path(__file__).resolve().parents[2] / "bench" / "deploy_scale.py"


def load_bench():
    spec = importlib.util.spec_from_file_location("deploy_scale", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_ten_agent_deploy_completes_and_report_is_well_formed(tmp_path):
    bench = load_bench()
    r = bench.run(10, scale=200.0, timeout=60.0, workdir=str(tmp_path))   # raises unless the plan is COMPLETE
    assert r["agents"] == 10
    # 10 agents x (deps, sds, sds-register, device, sdc, rexray, dvdi) + the MDM phase (3 mdm, create,
    # 3 gateway) + the cluster phase (gateway reachable, protection domain, storage pool).
    assert r["steps"] == 10 * 7 + 7 + 3
    # The replay is a schedule, so it is at least both lower bounds, and here the busiest agent (the
    # primary MDM: deps, mdm, create, gateway, sds, sdc, rexray, dvdi) bounds it exactly.
    assert r["critical_path_s"] >= max(r["dependency_only_s"], r["agent_work_max_s"])
    assert r["agent_work_max_s"] == sum(bench.STEP_SECONDS[a] for a in
                                        ("deps", "mdm", "cluster-create", "gateway", "sds", "sdc", "rexray", "dvdi"))
    assert r["makespan_s"] > 0 and r["ratio"] == pytest.approx(r["makespan_s"] / r["critical_path_s"], rel=1e-3)
    assert r["critical_chain"][0].startswith("sim-") and "[dvdi]" in r["critical_chain"][-1]
    c = r["counters"]
    assert c["offers"] > 0 and c["launched"] >= 10 * 5 + 7          # 5 host steps per agent + the MDM phase
    assert r["scheduler_cpu_s"] > 0 and r["cpu_per_offer_us"] > 0 and r["peak_rss_mb"] > 10
