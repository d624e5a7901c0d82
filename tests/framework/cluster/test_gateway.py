"""The PyPowerFlex adapter against the real sandbox gateway: TLS, credentials, sessions, error mapping."""
import pytest

from dcos_scaleio.framework.cluster import (Gateway, GatewayAuthError, GatewayConfig, GatewayConfigError,
                                            GatewayRefused,
                                            GatewayTLSError, GatewayUnavailable, ProtectionDomainSpec, SessionExpired,
                                            StoragePoolSpec, ensure_protection_domain, ensure_storage_pool,
                                            gateway_reachable, parse_endpoint)
from dcos_scaleio.framework.cluster.errors import PermanentError, RetryableError
from dcos_scaleio.sandbox.scaleio import tls
from dcos_scaleio.sandbox.scaleio.gateway import GatewayServer

pytestmark = pytest.mark.sandbox


def test_reachable_logs_in_and_reads_version_and_system(world, gw):
    res = gateway_reachable(gw)
    assert res.details["api_version"] == "3.0"
    assert res.details["system_id"] == world.system.cluster().system_id
    assert res.details["system_name"] == "sio-test"
    assert res.details["cluster_mode"] == "ThreeNodes"
    assert res.changed is False


def test_tls_verification_is_on_by_default_and_uses_the_ca(world, tmp_path, no_secret):
    assert GatewayConfig("https://h:1", password="x").tls_verify is True
    # Verified against the sandbox's generated CA: works (checked above via the default fixture too).
    assert world.gateway().connect() == "3.0"
    # A different CA (a second sandbox CA) must fail verification, permanently.
    other_ca = tls.ensure_ca(tmp_path / "other-tls")
    with pytest.raises(GatewayTLSError) as ei:
        world.gateway(ca_path=str(other_ca)).connect()
    err = ei.value
    assert not err.retryable and "certificate" in err.reason and str(other_ca) in err.reason
    no_secret(err)
    # No CA given: the system store does not know the sandbox CA either.
    with pytest.raises(GatewayTLSError):
        world.gateway(ca_path=None).connect()
    # Explicitly turning verification off connects (the operator's choice, warned about by options).
    with pytest.warns(Warning, match="Unverified HTTPS request"):
        assert world.gateway(ca_path=None, tls_verify=False).connect() == "3.0"


def test_missing_ca_file_is_a_config_error(world, tmp_path):
    with pytest.raises(GatewayConfigError) as ei:
        world.gateway(ca_path=str(tmp_path / "nope.pem")).connect()
    assert "does not exist" in ei.value.reason and not ei.value.retryable


def test_wrong_password_is_permanent_and_never_echoed(world, no_secret, password):
    wrong = password + "-wrong"
    g = world.gateway(password=wrong)
    with pytest.raises(GatewayAuthError) as ei:
        g.connect()
    assert not ei.value.retryable and ei.value.status == 401 and "credentials" in ei.value.reason
    assert wrong not in str(ei.value) and wrong not in repr(ei.value) and wrong not in repr(g)
    no_secret(ei.value)


def test_a_gateway_message_echoing_the_password_is_redacted_everywhere(world, gw, password, no_secret,
                                                                       secret_watch):
    """The MDM echoes an invalid name in its refusal; here the name is the password. The error and
    every log record (PyPowerFlex logs the gateway's body) show it redacted."""
    with pytest.raises(GatewayRefused) as ei:
        gw.call("create protection domain", lambda c: c.protection_domain.create(password))
    assert "Invalid Protection Domain name" in ei.value.reason and "******" in ei.value.reason
    no_secret(ei.value)
    assert any("Invalid Protection Domain name: '******'" in t for t in secret_watch)
    # (the autouse secret_watch then checks every record for the password)


def test_reprs_never_show_the_password(world, password):
    cfg = world.config()
    g = Gateway(cfg)
    g.connect()
    for text in (repr(cfg), str(cfg), repr(g), repr(cfg.password)):
        assert password not in text


def test_gateway_5xx_on_every_request_is_retryable_with_the_gateways_message(world, gw, no_secret):
    for status in (500, 502, 503):
        world.system.set_fault("gateway_5xx", status=status, message=f"sandbox says {status}")
        with pytest.raises(GatewayUnavailable) as ei:
            ensure_protection_domain(gw, ProtectionDomainSpec("pd1"))
        err = ei.value
        assert err.retryable and err.status == status and f"sandbox says {status}" in err.reason
        no_secret(err)
    world.system.clear_fault("gateway_5xx")
    assert ensure_protection_domain(gw, ProtectionDomainSpec("pd1")).changed
    assert world.applied("add_protection_domain") == 1


def test_5xx_on_the_version_call_is_retryable(world, gw):
    """PyPowerFlex parses a 5xx body of /api/version as a version; the adapter still says 'retryable'."""
    gw.connect()
    world.system.set_fault("gateway_5xx", status=503, message="busy", path="/api/version", count=1)
    with pytest.raises(GatewayUnavailable) as ei:
        ensure_protection_domain(gw, ProtectionDomainSpec("pd1"))
    assert ei.value.retryable and "unexpected response" in ei.value.reason
    assert ensure_protection_domain(gw, ProtectionDomainSpec("pd1")).changed


def test_5xx_on_a_mutation_is_retryable_and_the_retry_applies_once(world, gw):
    ensure_protection_domain(gw, ProtectionDomainSpec("pd1"))
    world.system.set_fault("gateway_5xx", status=500, message="Internal error", path="/api/types/StoragePool/instances",
                           count=1)
    with pytest.raises(RetryableError):
        ensure_storage_pool(gw, StoragePoolSpec("pd1", "sp1"))
    assert world.applied("add_storage_pool") == 0
    assert ensure_storage_pool(gw, StoragePoolSpec("pd1", "sp1")).changed
    assert not ensure_storage_pool(gw, StoragePoolSpec("pd1", "sp1")).changed
    assert world.applied("add_storage_pool") == 1


def test_gateway_down_is_retryable(world, gw):
    gw.connect()
    world.server.stop()
    with pytest.raises(GatewayUnavailable) as ei:
        ensure_protection_domain(gw, ProtectionDomainSpec("pd1"))
    assert ei.value.retryable and "cannot connect" in ei.value.reason


def test_gateway_that_does_not_answer_times_out_retryably(world):
    """A gateway whose socket is bound but which does not serve yet (still starting): the TLS
    handshake never completes; after ``timeout_s`` the error is retryable. Once it serves, the
    same Gateway object connects."""
    hung = GatewayServer(world.state_dir, listen_ip=world.server.listen_ip, mdm_ips=world.mdm_ips[:2],
                         tls_dir=world.server.tls_dir).bind()
    serving = False
    try:
        g = world.gateway(endpoint=f"https://{hung.listen_ip}:{hung.port}", timeout_s=0.5)
        with pytest.raises(GatewayUnavailable) as ei:
            g.connect()
        assert ei.value.retryable and "did not answer within 0.5 s" in ei.value.reason
        hung.start()
        serving = True
        assert g.connect() == "3.0"
    finally:
        if not serving:
            hung.start()      # stop() waits for the serving loop, so it must have been started
        hung.stop()


def test_tls_transport_failure_is_retryable_not_a_certificate_error(world):
    """Something that accepts TCP and hangs up (a gateway still starting) is not a trust problem."""
    ip = world.mdm_ips[2]          # the tie-breaker's 9011 stand-in accepts and closes connections
    g = world.gateway(endpoint=f"https://{ip}:9011")
    with pytest.raises(GatewayUnavailable) as ei:
        g.connect()
    assert ei.value.retryable and not isinstance(ei.value, GatewayTLSError)


def test_mdm_unreachable_at_login_is_retryable(world, gw):
    """The gateway answers 500 'Could not connect to the MDM cluster' while no manager MDM answers."""
    for lst in world.listeners:
        if lst.port == 6611:
            lst.stop()
    with pytest.raises(GatewayUnavailable) as ei:
        gw.connect()
    assert ei.value.retryable and "MDM" in ei.value.reason


def test_session_expiry_between_calls_is_invisible(world, gw):
    ensure_protection_domain(gw, ProtectionDomainSpec("pd1"))
    assert world.system.expire_sessions("gateway") >= 0
    assert ensure_storage_pool(gw, StoragePoolSpec("pd1", "sp1")).changed
    world.system.expire_sessions("gateway")
    assert not ensure_protection_domain(gw, ProtectionDomainSpec("pd1")).changed


def test_token_rejected_mid_call_logs_in_again_once(world, gw, secret_watch):
    """The gateway rejects the session (401) on the create request itself (the only request to
    /api/types/StoragePool/instances): the adapter logs in again and replays it once; the pool is
    created exactly once."""
    ensure_protection_domain(gw, ProtectionDomainSpec("pd1"))
    world.system.set_fault("gateway_5xx", status=401, message="Unauthorized",
                           path="/api/types/StoragePool/instances", count=1)
    res = ensure_storage_pool(gw, StoragePoolSpec("pd1", "sp1"))
    assert res.changed and res.details["created"] is True
    assert world.system.peek_fault("gateway_5xx") is None          # the 401 really happened
    assert world.applied("add_storage_pool") == 1 == world.attempts("add_storage_pool")
    assert any("logging in again" in t for t in secret_watch)


def test_token_rejected_twice_is_session_expired_retryable(world, gw, no_secret):
    gw.connect()
    world.system.set_fault("gateway_5xx", status=401, message="Unauthorized",
                           path="/api/types/ProtectionDomain/instances", count=2)
    with pytest.raises(SessionExpired) as ei:
        ensure_protection_domain(gw, ProtectionDomainSpec("pd1"))
    assert ei.value.retryable
    # Exactly two tries: both 401s were consumed, none is left for a third.
    assert world.system.peek_fault("gateway_5xx") is None
    assert world.attempts("add_protection_domain") == 0
    no_secret(ei.value)


@pytest.mark.parametrize("endpoint,ok", [
    ("https://10.0.0.1", ("10.0.0.1", 443)), ("https://gw.example:4443/api", ("gw.example", 4443)),
    ("https://10.0.0.1:8443/", ("10.0.0.1", 8443)),
    ("http://10.0.0.1:80", None), ("https://admin:pw@10.0.0.1", None), ("https://10.0.0.1/other", None),
    ("https://10.0.0.1:99999", None), ("10.0.0.1", None), ("https://[::1]:443", None),
])
def test_endpoint_parsing(endpoint, ok):
    if ok:
        assert parse_endpoint(endpoint) == ok
    else:
        with pytest.raises(GatewayConfigError) as ei:
            parse_endpoint(endpoint)
        assert "pw" not in str(ei.value)
        assert isinstance(ei.value, PermanentError)


def test_concurrent_calls_on_one_gateway_do_not_end_each_others_sessions(world, gw):
    """PyPowerFlex keeps one token per client and logs out after each request; the adapter gives
    each thread its own client so threads sharing a Gateway never log each other out."""
    import threading
    errors = []

    def work(i):
        try:
            ensure_protection_domain(gw, ProtectionDomainSpec(f"pd{i}"))
        except Exception as exc:   # noqa: BLE001 - collected for the assertion
            errors.append(exc)
    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors and not any(t.is_alive() for t in threads)
    assert sorted(p.name for p in world.system.protection_domains()) == ["pd0", "pd1", "pd2", "pd3"]
    assert world.applied("add_protection_domain") == 4 == world.attempts("add_protection_domain")
