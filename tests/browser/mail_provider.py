"""A stand-in for Google's OAuth endpoints on loopback, for the browser test of the
console's Mailboxes page (what `GOOGLE_OAUTH_BASE` points the local runtime at).

It checks the shape of what it receives: the authorization request the consent tab
opens (client id, the runtime's redirect URI, code response, S256 challenge, offline
access) and the runtime's token request (grant type, code, the same redirect URI, the
client's id and secret, and a code_verifier whose SHA-256 is the challenge); then
answers the userinfo request with the mailbox's address. Anything else is recorded in
`problems`, which the scenario asserts empty.
"""

import base64
import hashlib
import json
import secrets
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CLIENT_ID = "console-test-google-client"
CLIENT_SECRET = "console-test-google-secret"


class MailProvider:
    """`base_url` to give the runtime; `problems` with the requests' shape."""

    def __init__(self, address):
        self.address, self.problems, self.codes, self.tokens = address, [], {}, set()
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                url = urllib.parse.urlparse(self.path)
                if url.path == "/authorize":
                    return provider.authorize(self, dict(urllib.parse.parse_qsl(url.query)))
                if url.path == "/profile":
                    return provider.profile(self)
                self.send_error(404)

            def do_POST(self):
                length = int(self.headers.get("content-length", 0))
                form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
                if self.path == "/token":
                    return provider.token(self, form)
                self.send_error(404)

            def json(self, body, status=200):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.base_url = f"http://127.0.0.1:{self.server.server_port}"

    def stop(self):
        self.server.shutdown()

    def expect(self, what, actual, wanted):
        if actual != wanted:
            self.problems.append(f"{what}: {actual!r}, not {wanted!r}")

    def authorize(self, handler, query):
        self.expect("client_id", query.get("client_id"), CLIENT_ID)
        self.expect("response_type", query.get("response_type"), "code")
        self.expect("code_challenge_method", query.get("code_challenge_method"), "S256")
        self.expect("access_type", query.get("access_type"), "offline")
        if "gmail.send" not in query.get("scope", ""):
            self.problems.append(f"scope without gmail.send: {query.get('scope')!r}")
        code = secrets.token_urlsafe(16)
        self.codes[code] = (query.get("code_challenge"), query.get("redirect_uri"))
        back = f"{query.get('redirect_uri')}?" + urllib.parse.urlencode({"code": code, "state": query.get("state", "")})
        handler.send_response(302)
        handler.send_header("location", back)
        handler.end_headers()

    def token(self, handler, form):
        self.expect("grant_type", form.get("grant_type"), "authorization_code")
        self.expect("client_id", form.get("client_id"), CLIENT_ID)
        self.expect("client_secret", form.get("client_secret"), CLIENT_SECRET)
        challenge, redirect_uri = self.codes.pop(form.get("code"), (None, None))
        self.expect("redirect_uri", form.get("redirect_uri"), redirect_uri)
        digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
        self.expect("S256(code_verifier)", base64.urlsafe_b64encode(digest).rstrip(b"=").decode(), challenge)
        access = secrets.token_urlsafe(16)
        self.tokens.add(access)
        handler.json({"access_token": access, "refresh_token": secrets.token_urlsafe(16),
                      "expires_in": 3600, "token_type": "Bearer"})

    def profile(self, handler):
        bearer = handler.headers.get("authorization", "").removeprefix("Bearer ")
        if bearer not in self.tokens:
            self.problems.append("userinfo without a token it issued")
            return handler.json({"error": "invalid_token"}, status=401)
        handler.json({"sub": "1234", "email": self.address, "email_verified": True})
