"""Security over real HTTP, through the Admin Router and straight to the scheduler: no response
carries a secret, hostile requests are refused with 4xx and change nothing, no request makes the
server answer 500."""
import json
import socket
import urllib.parse

import pytest

pytestmark = [pytest.mark.sandbox, pytest.mark.needs_root]


def _requests(live):
    """(method, path, body) for every route: documented ones with real and bogus values, errors."""
    doc = live.json("GET", "/v1/openapi.json")[1]
    values = {"plan": ["deploy", "nope"], "node": [live.host, "nope"], "name": ["gateway", "mdm", "nope"]}
    out = []
    for path, ops in doc["paths"].items():
        concrete = [path]
        for key, vals in values.items():
            if "{" + key + "}" in path:
                concrete = [p.replace("{" + key + "}", urllib.parse.quote(v, safe="")) for p in concrete for v in vals]
        for method in ops:
            for p in concrete:
                bodies = [None] if method == "get" else [None, {"devices": ["/dev/x;id"]}, [1]]
                out += [(method.upper(), p, b) for b in bodies]
    out += [("GET", "/v1/scheduler", None), ("GET", "/v1/executor/secrets?executor_id=x", None),
            ("GET", "/v1/nothing", None), ("DELETE", "/v1/plans/deploy", None), ("PUT", "/v1/nodes", None)]
    return out


def test_no_response_contains_a_secret_and_none_is_500(live):
    secrets = [live.password, live.api_token]
    operator = live.operator()
    # Through the router: (default viewer token), an operator. Direct: nothing, a wrong API token,
    # the API token itself (an operator). Operators only where the call must be refused anyway.
    credentials = {"front": [{}, operator],
                   "direct": [{}, {"Authorization": "token=" + live.api_token[:-1] + "x"},
                              {"Authorization": "token=" + live.api_token}]}
    refused_bodies = ([1], {"devices": ["/dev/x;id"]})
    plan_before = live.json("GET", "/v1/plans/deploy")[1]
    seen = 0
    for method, path, body in _requests(live):
        harmless = method == "GET" or body in refused_bodies or "nope" in path or path == "/v1/preview"
        for via, auths in credentials.items():
            for headers in (auths if harmless else auths[:-1]):
                status, hdrs, raw = live.request(method, path, body, headers, via=via)
                seen += 1
                assert status < 500, (method, path, body, via, status, raw[:300])
                text = raw.decode(errors="replace") + json.dumps(hdrs)
                for secret in secrets:
                    assert secret not in text, (method, path)
    assert seen > 300
    assert live.json("GET", "/v1/plans/deploy")[1] == plan_before
    # nor the scheduler's own logs
    logs = (live.up.state_dir / "scheduler" / "stderr").read_text(errors="replace")
    assert live.api_token not in logs and live.password not in logs


def _raw(live, request: bytes) -> bytes:
    host, port = live.direct.split("//")[1].split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(request)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return data


def test_huge_chunked_and_lying_bodies(live):
    before = live.json("GET", f"/v1/nodes/{live.host}")[1]
    auth = live.operator()["Authorization"].encode()
    path = f"/v1/nodes/{live.host}/devices".encode()
    # 1 GiB announced, a little sent: refused at once, connection closed (the server reads nothing)
    head = (b"POST " + path + b" HTTP/1.1\r\nHost: x\r\nAuthorization: " + auth
            + b"\r\nContent-Type: application/json\r\n")
    reply = _raw(live, head + b"Content-Length: 1073741824\r\n\r\n" + b'{"devices": ["/dev/sdz"' + b" " * 4096)
    assert reply.startswith(b"HTTP/1.1 413") and b"Connection: close" in reply
    reply = _raw(live, head + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 411")
    reply = _raw(live, head + b"Content-Length: -5\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 400")
    reply = _raw(live, head + b"Content-Length: lots\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 400")
    # a real 1 MiB + 1 body through urllib (which writes it all before reading): 413, not a broken pipe
    status, _, _ = live.request("POST", "/v1/preview", raw=b" " * ((1 << 20) + 1))
    assert status == 413
    assert live.json("GET", f"/v1/nodes/{live.host}")[1] == before


def test_malformed_or_non_object_json_is_400_naming_the_body(live):
    op = live.operator()
    for path in ("/v1/preview", "/v1/plans/deploy/interrupt", f"/v1/nodes/{live.host}/devices"):
        for raw in (b"{", b"\xff\xfe", b"   ", b'{"a": NaN', b"[1,", b"null", b'"text"', b"[]"):
            status, _, body = live.request("POST", path, raw=raw, headers=op)
            assert status == 400 and json.loads(body)["field"] == "(body)", (path, raw, body)
    assert live.json("GET", "/v1/plans/deploy")[1]["status"] == "COMPLETE"


def test_wrong_methods_are_405_with_allow(live):
    status, headers, _ = live.request("PUT", "/v1/nodes")
    assert status == 405 and headers["Allow"] == "GET"
    status, headers, _ = live.request("GET", "/v1/openapi.json")
    assert status == 200
    status, headers, _ = live.request("DELETE", "/v1/preview")
    assert status == 405 and headers["Allow"] == "GET, POST"
