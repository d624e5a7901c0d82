"""framework.api.auth: ACS tokens verified against a JWKS served over real HTTP(S), the service
API token, operators, and the 401/403/503 answers."""
import time

import pytest

from dcos_scaleio.framework.api.auth import API_TOKEN_IDENTITY, Authenticator, credential_from_header
from dcos_scaleio.sandbox.dcos.iam import Iam
from dcos_scaleio.sandbox.scaleio.tls import ensure_ca, issue_server_cert

from .jwks_server import JwksServer

API_TOKEN = "svc-token-0123456789abcdef"


@pytest.fixture(scope="module")
def iam():
    return Iam()


@pytest.fixture(scope="module")
def jwks(iam):
    server = JwksServer(iam.jwks)
    yield server
    server.close()


def make(jwks, **kw):
    kw.setdefault("api_token", API_TOKEN)
    return Authenticator(jwks.url, None, **kw)


def test_header_forms():
    assert credential_from_header("token=abc.def.ghi") == "abc.def.ghi"
    assert credential_from_header("Bearer abc") == "abc"
    assert credential_from_header("bearer  abc ") == "abc"
    for bad in (None, "", "token=", "Basic dXNlcg==", "abc", "token=a b", "token=\u00e9"):
        assert credential_from_header(bad) is None, bad


def test_valid_acs_token_both_header_forms(iam, jwks):
    auth = make(jwks)
    tok = iam.mint("bootstrapuser")
    for header in (f"token={tok}", f"Bearer {tok}"):
        d = auth.decide(header)
        assert (d.status, d.identity) == (200, "bootstrapuser")


def test_api_token_always_allowed(jwks):
    auth = make(jwks, operators=["bootstrapuser"])
    d = auth.decide(f"token={API_TOKEN}")
    assert (d.status, d.identity) == (200, API_TOKEN_IDENTITY)
    assert auth.decide(f"token={API_TOKEN}x").status == 401


def test_refusals_are_401_with_challenge(iam, jwks):
    auth = make(jwks)
    foreign = Iam()
    cases = {
        "missing": None,
        "malformed header": "Basic Zm9vOmJhcg==",
        "garbage": "token=not-a-jwt",
        "expired": "token=" + iam.mint("bootstrapuser", exp=int(time.time()) - 60),
        "foreign key, unknown kid": "token=" + foreign.mint("bootstrapuser"),
        "three dots of junk": "token=a.b.c",
    }
    for name, header in cases.items():
        d = auth.decide(header)
        assert d.status == 401, name
        assert d.headers == {"WWW-Authenticate": "acsjwt"}, name
        secret_part = (header or "").partition("token=")[2] or (header or "").partition(" ")[2]
        assert d.message and (not secret_part or secret_part not in d.message), name
    assert "expired" in auth.decide(cases["expired"]).message


def test_forged_signature_with_known_kid_is_refused(iam, jwks):
    foreign = Iam()
    foreign.kid = iam.kid            # same kid, other key: the signature must not verify
    d = make(jwks).decide("token=" + foreign.mint("bootstrapuser"))
    assert d.status == 401 and "invalid" in d.message


def test_operators_get_403_for_others(iam, jwks):
    auth = make(jwks, operators=["bootstrapuser"])
    assert auth.decide("token=" + iam.mint("bootstrapuser")).status == 200
    d = auth.decide("token=" + iam.mint("viewer"))
    assert (d.status, d.identity) == (403, "viewer") and d.headers == {}
    # no operator list: every valid identity may
    assert make(jwks).decide("token=" + iam.mint("viewer")).status == 200


def test_key_rotation_refetches_once_per_cooldown(jwks):
    current = {"iam": Iam()}
    server = JwksServer(lambda: current["iam"].jwks())
    try:
        auth = Authenticator(server.url, None, cooldown_s=3600)
        assert auth.decide("token=" + current["iam"].mint("u")).status == 200
        assert server.hits == 1                               # fetched lazily, then cached
        assert auth.decide("token=" + current["iam"].mint("u")).status == 200
        assert server.hits == 1
        current["iam"] = Iam()                                # the cluster rotates its key
        assert auth.decide("token=" + current["iam"].mint("u")).status == 401   # within the cooldown
        fresh = Authenticator(server.url, None, cooldown_s=0)
        assert fresh.decide("token=" + Iam().mint("u")).status == 401
        hits = server.hits
        assert fresh.decide("token=" + current["iam"].mint("u")).status == 200
        assert server.hits == hits                            # already the current set
    finally:
        server.close()


def test_tls_jwks_with_ca_bundle_and_insecure(tmp_path, iam):
    ca = ensure_ca(tmp_path)
    cert, key = issue_server_cert(tmp_path, "127.0.0.1")
    server = JwksServer(iam.jwks, tls=(cert, key))
    try:
        tok = "token=" + iam.mint("bootstrapuser")
        assert Authenticator(server.url, str(ca)).decide(tok).status == 200
        assert Authenticator(server.url, "false").decide(tok).status == 200
        # system CAs do not know the sandbox CA: keys unavailable -> 503, not a crash
        assert Authenticator(server.url, None).decide(tok).status == 503
    finally:
        server.close()


def test_unreachable_jwks_is_503_and_no_jwks_is_401(iam):
    from dcos_scaleio.sandbox.zookeeper import free_port
    tok = "token=" + iam.mint("bootstrapuser")
    assert Authenticator(f"http://127.0.0.1:{free_port()}/jwks", None).decide(tok).status == 503
    d = Authenticator(None, None, api_token=API_TOKEN).decide(tok)
    assert d.status == 401 and "SCALEIO_IAM_JWKS_URL" in d.message


def test_from_environ():
    auth = Authenticator.from_environ({"SCALEIO_API_TOKEN": API_TOKEN, "SCALEIO_API_OPERATORS": " a, b ,,"})
    assert auth.operators == {"a", "b"} and auth.jwks_url is None
    assert auth.decide(f"Bearer {API_TOKEN}").allowed
    assert Authenticator.from_environ({}).decide(f"token={API_TOKEN}").status == 401
