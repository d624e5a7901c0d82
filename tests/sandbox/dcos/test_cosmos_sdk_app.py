"""A tiny service for the Cosmos tests (no tests here), run by Marathon as a package's app: it
answers the SDK scheduler endpoints Cosmos reads. ``GET /v1/state/frameworkId`` -> ``["<id>"]``;
``GET /v1/plans/deploy`` -> 200 COMPLETE normally; with ``SDK_UNINSTALL=true`` it reports the
uninstall plan IN_PROGRESS (202) for ``UNINSTALL_SECONDS`` after its start, then COMPLETE (200)."""
import http.server
import json
import os
import sys
import time

STARTED = time.monotonic()
UNINSTALLING = os.environ.get("SDK_UNINSTALL") == "true"
DURATION = float(os.environ.get("UNINSTALL_SECONDS", "1.5"))


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def _json(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/v1/state/frameworkId":
            return self._json(200, ["framework-of-" + os.environ.get("MARATHON_APP_ID", "?").strip("/")])
        if self.path == "/v1/plans/deploy":
            done = not UNINSTALLING or time.monotonic() - STARTED > DURATION
            name = "uninstall" if UNINSTALLING else "deploy"
            return self._json(200 if done else 202, {"status": "COMPLETE" if done else "IN_PROGRESS",
                                                     "phases": [{"name": name}], "errors": [], "strategy": "serial"})
        self._json(404, {"message": "not found"})


if __name__ == "__main__":
    http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
