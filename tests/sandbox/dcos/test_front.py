"""The DC/OS front over real HTTPS: IAM login and JWKS, the Admin Router's auth and proxying."""
import http.server
import json
import threading
import time

import jwt
import pytest
import requests

from dcos_scaleio.sandbox.dcos.front import DcosFront
from dcos_scaleio.sandbox.dcos.iam import Iam

pytestmark = pytest.mark.sandbox


class _Upstream(http.server.BaseHTTPRequestHandler):
    """A service behind the router: echoes what it received; ``/status/<code>`` answers that code
    with its own Content-Type and a WWW-Authenticate header."""
    protocol_version = "HTTP/1.1"

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.path.startswith("/status/"):
            code = int(self.path.split("/")[2].split("?")[0])
            payload, ctype = b"plain words from upstream", "text/plain; version=0.0.4"
        else:
            code, ctype = 200, "application/json"
            payload = json.dumps({"method": self.command, "path": self.path, "body": body.decode(),
                                  "authorization": self.headers.get("Authorization"),
                                  "x_custom": self.headers.get("X-Custom"),
                                  "forwarded_proto": self.headers.get("X-Forwarded-Proto")}).encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("WWW-Authenticate", "acsjwt")
        self.send_header("X-Upstream", "yes")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = _answer

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def upstream():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def front(tmp_path_factory, upstream):
    with DcosFront(tmp_path_factory.mktemp("dcos")) as front:
        front.services.set("echo", upstream)
        front.services.set("moving", lambda: upstream)   # a callable: followed on every request
        yield front


@pytest.fixture(scope="module")
def https(front):
    """A session that verifies the front with the sandbox CA (not the system bundle from the env)."""
    session = requests.Session()
    session.trust_env = False
    session.verify = front.ca_path
    yield session
    session.close()


def _auth(token):
    return {"Authorization": f"token={token}"}


def test_login_issues_a_token_the_published_keys_verify(front, https):
    r = https.post(front.url + "/acs/api/v1/auth/login",
                  json={"uid": "bootstrapuser", "password": front.users["bootstrapuser"]}, timeout=10)
    assert r.status_code == 200, r.text
    token = r.json()["token"]

    jwks = https.get(front.jwks_url, timeout=10)   # open: no token
    assert jwks.status_code == 200
    [key] = jwks.json()["keys"]
    assert {key["kty"], key["alg"], key["use"]} == {"RSA", "RS256", "sig"}
    assert jwt.get_unverified_header(token)["kid"] == key["kid"]
    public = jwt.PyJWK.from_dict(key).key
    claims = jwt.decode(token, public, algorithms=["RS256"])
    assert claims["uid"] == "bootstrapuser" and claims["exp"] > time.time()
    # A token minted for tests verifies the same way.
    assert jwt.decode(front.mint("viewer", ttl_s=60), public, algorithms=["RS256"])["uid"] == "viewer"

    # The viewer logs in too; the token reaches a service through the router.
    r = https.post(front.url + "/acs/api/v1/auth/login",
                  json={"uid": "viewer", "password": front.users["viewer"]}, timeout=10)
    assert r.status_code == 200
    assert https.get(front.url + "/service/echo/x", headers=_auth(r.json()["token"]), timeout=10).status_code == 200


@pytest.mark.parametrize("body", [
    {"uid": "bootstrapuser", "password": "wrong"},
    {"uid": "nobody", "password": "x"},
])
def test_login_with_bad_credentials_is_401(front, https, body):
    r = https.post(front.url + "/acs/api/v1/auth/login", json=body, timeout=10)
    assert r.status_code == 401
    assert r.json()["code"] == "ERR_INVALID_CREDENTIALS" and r.json()["title"]
    assert "token" not in r.json()


def test_login_with_a_malformed_body_is_400(front, https):
    r = https.post(front.url + "/acs/api/v1/auth/login", data=b"{not json", timeout=10)
    assert r.status_code == 400
    r = https.post(front.url + "/acs/api/v1/auth/login", json={"uid": 3}, timeout=10)
    assert r.status_code == 400


def test_the_router_refuses_missing_expired_and_foreign_tokens(front, https):
    url = front.url + "/service/echo/v1/plans"
    cases = {
        "none": {},
        "garbage": _auth("not-a-jwt"),
        "expired": _auth(front.mint("bootstrapuser", exp=int(time.time()) - 5)),
        "foreign key": _auth(Iam().mint("bootstrapuser")),
        "other scheme": {"Authorization": "Basic Ym9vdHN0cmFwdXNlcjp4"},
    }
    for what, headers in cases.items():
        r = https.get(url, headers=headers, timeout=10)
        assert r.status_code == 401, what
        assert r.headers["WWW-Authenticate"] == "acsjwt", what
        assert r.json()["title"] == "Unauthorized", what
        assert r.headers.get("X-Upstream") is None, what   # never reached the service
    # Also for paths that lead nowhere and for the Mesos route: everything but the IAM needs a login.
    assert https.get(front.url + "/no/such/thing", timeout=10).status_code == 401
    assert https.post(front.url + "/service/echo/x", data=b"x" * 1000, timeout=10).status_code == 401


def test_proxying_keeps_method_path_query_body_headers_and_codes(front, https):
    token = front.token()
    r = https.put(front.url + "/service/echo/v1/nodes/a%20b?phase=p&step=s", data=b'{"k": 1}',
                 headers={**_auth(token), "X-Custom": "kept", "Connection": "keep-alive, X-Custom"}, timeout=10)
    assert r.status_code == 200
    seen = r.json()
    assert seen["method"] == "PUT"
    assert seen["path"] == "/v1/nodes/a%20b?phase=p&step=s"     # prefix stripped, rest untouched
    assert seen["body"] == '{"k": 1}'
    assert seen["authorization"] == f"token={token}"            # the service sees the credential
    assert seen["x_custom"] is None                             # named in Connection: hop-by-hop
    assert seen["forwarded_proto"] == "https"

    for code in (201, 202, 401, 403, 417, 500):
        r = https.get(front.url + f"/service/echo/status/{code}", headers=_auth(token), timeout=10)
        assert r.status_code == code
        assert r.headers["Content-Type"] == "text/plain; version=0.0.4"
        assert r.headers["WWW-Authenticate"] == "acsjwt"
        assert r.headers["X-Upstream"] == "yes"
        assert r.text == "plain words from upstream"

    # Bearer form, a callable target, the bare service path.
    r = https.delete(front.url + "/service/moving", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert r.status_code == 200 and r.json()["path"] == "/" and r.json()["method"] == "DELETE"


def test_unknown_service_is_404_and_a_dead_upstream_502(front, https):
    token = front.token()
    r = https.get(front.url + "/service/nothing-here/v1/plans", headers=_auth(token), timeout=10)
    assert r.status_code == 404 and "nothing-here" in r.json()["description"]
    assert https.get(front.url + "/elsewhere", headers=_auth(token), timeout=10).status_code == 404

    front.services.set("dead", "http://127.0.0.1:9")   # discard port: nobody listens
    try:
        r = https.get(front.url + "/service/dead/v1/plans", headers=_auth(token), timeout=10)
        assert r.status_code == 502 and r.json()["title"] == "Bad Gateway"
    finally:
        front.services.remove("dead")


def test_registered_prefixes_and_body_limit(front, https, upstream):
    token = front.token()
    front.register_prefix("/package", upstream + "/package")   # Cosmos' style: path kept
    try:
        r = https.post(front.url + "/package/install", headers=_auth(token), json={"a": 1}, timeout=10)
        assert r.status_code == 200 and r.json()["path"] == "/package/install"
    finally:
        front.router.unregister_prefix("/package")
    assert https.post(front.url + "/package/install", headers=_auth(token), timeout=10).status_code == 404

    limit = front.router.max_body
    r = https.post(front.url + "/service/echo/x", headers=_auth(token), data=b"x" * (limit + 1), timeout=30)
    assert r.status_code == 413


def test_version_metadata_is_open_and_the_access_log_has_no_credentials(front, https):
    r = https.get(front.url + "/dcos-metadata/dcos-version.json", timeout=10)
    assert r.status_code == 200 and r.json()["dcos-variant"] == "open" and r.json()["version"]
    token = front.token()
    assert https.get(front.url + "/service/echo/logged?secret=q", headers=_auth(token), timeout=10).status_code == 200
    log = (front.directory / "adminrouter.log").read_text()
    line = next(ln for ln in log.splitlines() if "/service/echo/logged" in ln)
    assert line.split()[2:5] == ["GET", "/service/echo/logged", "200"] and line.split()[5].startswith("http://127.0.0.1:")
    assert token not in log and "secret=q" not in log


def test_a_failing_resolver_is_a_500_and_the_router_keeps_serving(front, https):
    def broken(name):
        if name == "boom":
            raise RuntimeError("resolver bug")
        return None
    front.add_resolver(broken)
    r = https.get(front.url + "/service/boom/x", headers=_auth(front.token()), timeout=10)
    assert r.status_code == 500 and r.json()["description"] == "RuntimeError"
    assert https.get(front.url + "/service/echo/x", headers=_auth(front.token()), timeout=10).status_code == 200
