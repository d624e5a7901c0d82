"""SecretsClient against a real HTTP(S) server implementing the contract's secrets endpoint."""
import pytest

from dcos_scaleio.framework.executor.secrets import SecretsClient, SecretsError
from dcos_scaleio.sandbox.scaleio import tls

from .conftest import PASSWORD, SecretsServer

EID = "scaleio-executor__h1__1"


@pytest.fixture(scope="module")
def https(tmp_path_factory):
    d = tmp_path_factory.mktemp("tls")
    server = SecretsServer(PASSWORD, tls=tls.issue_server_cert(d, "127.0.0.1"))
    server.ca = str(tls.ensure_ca(d))
    yield server
    server.stop()


def fails(client, names=("admin_password",)):
    with pytest.raises(SecretsError) as info:
        client.fetch(names)
    assert PASSWORD not in str(info.value)
    return info.value


def test_verified_tls_and_the_token(https):
    token = https.mint(EID)
    assert SecretsClient(https.url, token, EID, ca_file=https.ca).fetch(["admin_password"]) == \
        {"admin_password": PASSWORD}
    assert SecretsClient(https.url, token, EID, ca_file=https.ca).fetch([]) == {}
    assert token not in repr(SecretsClient(https.url, token, EID))
    # Not trusting the server's CA: refused, and worth retrying (a transport problem).
    err = fails(SecretsClient(https.url, token, EID))
    assert err.retryable and "cannot reach" in err.reason
    err = fails(SecretsClient(https.url, "wrong", EID, ca_file=https.ca))
    assert not err.retryable and "(401)" in err.reason


def test_replaced_executor_missing_secret_and_configuration(https):
    token = https.mint(EID)
    https.replaced.add(EID)
    try:
        err = fails(SecretsClient(https.url, token, EID, ca_file=https.ca))
        assert not err.retryable and "no longer current (403)" in err.reason
    finally:
        https.replaced.discard(EID)
    err = fails(SecretsClient(https.url, token, EID, ca_file=https.ca), ["admin_password", "other"])
    assert "did not provide other" in err.reason
    assert "SCALEIO_SCHEDULER_URL" in fails(SecretsClient.from_env(EID, env={})).reason
    no_token = SecretsClient.from_env(EID, env={"SCALEIO_SCHEDULER_URL": https.url})
    assert "SCALEIO_EXECUTOR_TOKEN" in fails(no_token).reason


def test_a_dcos_secret_reference_in_the_environment_is_used_first(https):
    env = {"SCALEIO_ADMIN_PASSWORD": "from-the-secret-store"}
    # No scheduler URL or token needed when the environment already holds it.
    assert SecretsClient.from_env(EID, env=env).fetch(["admin_password"]) == {"admin_password": "from-the-secret-store"}
    before = len(https.requests)
    token = https.mint(EID)
    env.update(SCALEIO_SCHEDULER_URL=https.url, SCALEIO_EXECUTOR_TOKEN=token, SCALEIO_SCHEDULER_CA=https.ca,
               SCALEIO_ADMIN_PASSWORD="")
    # Empty: the endpoint answers.
    assert SecretsClient.from_env(EID, env=env).fetch(["admin_password"]) == {"admin_password": PASSWORD}
    assert len(https.requests) == before + 1
