"""A stand-in OpenID Connect provider and a static host for the console, on loopback,
for the browser test of the AWS sign-in (authorization code with PKCE).

The provider checks the exact shape of what the console sends: the authorization
request (response_type, client_id, redirect_uri, scope, state, S256 code_challenge)
and the token request (grant_type, code, redirect_uri, client_id, and a code_verifier
whose SHA-256 is the challenge); it issues the local runtime's bearer token as the
access token, so the console then talks to the real API. The host serves console/
with an OIDC config.json and forwards /v1/* to the local runtime, as CloudFront does.
"""

import base64
import hashlib
import json
import secrets
import threading
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

CLIENT_ID = "console-test-client"


def _serve(handler):
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class Provider:
    """`issuer`, the requests it saw (`seen`), and `problems` with their shape."""

    def __init__(self, access_token):
        self.seen, self.problems, self.codes = [], [], {}
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                url = urllib.parse.urlparse(self.path)
                if url.path == "/.well-known/openid-configuration":
                    return self.json({"issuer": provider.issuer,
                                      "authorization_endpoint": f"{provider.issuer}/authorize",
                                      "token_endpoint": f"{provider.issuer}/token"})
                if url.path == "/authorize":
                    return provider.authorize(self, dict(urllib.parse.parse_qsl(url.query)))
                self.send_error(404)

            def do_POST(self):
                length = int(self.headers.get("content-length", 0))
                form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
                if self.path == "/token":
                    return provider.token(self, form, access_token)
                self.send_error(404)

            def do_OPTIONS(self):
                self.send_response(204)
                self.cors()
                self.send_header("access-control-allow-headers", "content-type")
                self.end_headers()

            def cors(self):
                self.send_header("access-control-allow-origin", "*")

            def json(self, body, status=200):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.cors()
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = _serve(Handler)
        self.issuer = f"http://127.0.0.1:{self.server.server_port}"

    def expect(self, condition, problem):
        if not condition:
            self.problems.append(problem)

    def authorize(self, handler, query):
        self.seen.append(("authorize", query))
        self.expect(query.get("response_type") == "code", f"response_type {query.get('response_type')}")
        self.expect(query.get("client_id") == CLIENT_ID, f"client_id {query.get('client_id')}")
        self.expect(query.get("code_challenge_method") == "S256", "not S256")
        self.expect(len(query.get("code_challenge", "")) == 43, "challenge is not a base64url SHA-256")
        self.expect(len(query.get("state", "")) >= 32, "weak state")
        self.expect("openid" in query.get("scope", "").split(), "no openid scope")
        code = secrets.token_urlsafe(16)
        self.codes[code] = query
        target = f"{query['redirect_uri']}?{urllib.parse.urlencode({'code': code, 'state': query.get('state', '')})}"
        handler.send_response(302)
        handler.send_header("location", target)
        handler.end_headers()

    def token(self, handler, form, access_token):
        self.seen.append(("token", form))
        request = self.codes.pop(form.get("code"), None)
        self.expect(request is not None, "unknown or reused code")
        self.expect(form.get("grant_type") == "authorization_code", f"grant_type {form.get('grant_type')}")
        self.expect(form.get("client_id") == CLIENT_ID, "client_id")
        self.expect("client_secret" not in form, "a public client sent a secret")
        if request:
            self.expect(form.get("redirect_uri") == request["redirect_uri"], "redirect_uri differs")
            digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
            challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
            self.expect(challenge == request.get("code_challenge"), "the verifier does not match the challenge")
        if self.problems:
            return handler.json({"error": "invalid_request"}, 400)
        handler.json({"access_token": access_token, "id_token": "unused", "token_type": "Bearer", "expires_in": 3600})

    def stop(self):
        self.server.shutdown()


class ConsoleHost:
    """console/ with an OIDC config.json, and /v1/* forwarded to the API at `api`."""

    def __init__(self, console_dir, config, api):
        files = {p.name: p.read_bytes() for p in Path(console_dir).iterdir() if p.is_file()}
        files["config.json"] = json.dumps(config).encode()
        types = {".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".json": "application/json"}

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def forward(self):
                length = int(self.headers.get("content-length", 0))
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                request = urllib.request.Request(api + self.path, data=body, method=self.command, headers=headers)
                try:
                    with urllib.request.urlopen(request) as response:
                        status, reply, ctype = response.status, response.read(), response.headers.get("content-type")
                except urllib.error.HTTPError as e:
                    status, reply, ctype = e.code, e.read(), e.headers.get("content-type")
                self.send_response(status)
                self.send_header("content-type", ctype or "application/octet-stream")
                self.send_header("content-length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def do_GET(self):
                if self.path.startswith("/v1/"):
                    return self.forward()
                name = urllib.parse.urlparse(self.path).path.lstrip("/") or "index.html"
                if name not in files:
                    return self.send_error(404)
                self.send_response(200)
                self.send_header("content-type", types.get(Path(name).suffix, "application/octet-stream"))
                self.end_headers()
                self.wfile.write(files[name])

            do_POST = do_PUT = do_DELETE = forward

        self.server = _serve(Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def stop(self):
        self.server.shutdown()
