"""A psi interaction webhook receiver in Python: the standard library's HTTP server and the
`cryptography` package (pip install -r requirements.txt).

For each call it
  1. reads the raw body (the signature covers these exact bytes, so verify before parsing),
  2. checks `X-Body-Signature` (RSA PKCS#1 v1.5 with SHA3-256, base64) with the service's public
     key, fetched from psi's public-key endpoint at start (and again when a signature fails, at
     most once a minute, in case the key was rotated),
  3. answers like the public Node examples: the credential CREDENTIAL_ID issued now, with the
     values in ISSUE; an attribute the holder presented under the same name takes that value.

With ISSUE_LATER_KEY (a PEM private key whose public half the service lists among the
definition's `issuers`) it answers "nothing now" instead and issues ISSUE_LATER_DELAY_MS later
through psi's `credentials-issued` endpoint, signed, as the public async-issue example does.

Settings (environment): PSI_URL, SERVICE_DID, CREDENTIAL_ID, ISSUE (JSON object, default {}),
KEY_NAME (default "default"), PORT (default 4604; 0 picks a free one), ISSUE_LATER_KEY,
ISSUE_LATER_DELAY_MS (default 1000).

Run: PSI_URL=http://127.0.0.1:8080 SERVICE_DID=... CREDENTIAL_ID=... python3 receiver.py
"""

import base64
import json
import os
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding


def required(name):
    value = os.environ.get(name)
    if not value:
        print(f"error: set {name}", file=sys.stderr)
        sys.exit(2)
    return value


PSI_URL = required("PSI_URL").rstrip("/")
SERVICE_DID = required("SERVICE_DID")
CREDENTIAL_ID = required("CREDENTIAL_ID")
ISSUE = json.loads(os.environ.get("ISSUE", "{}"))
KEY_NAME = os.environ.get("KEY_NAME", "default")
PORT = int(os.environ.get("PORT", "4604"))
LATER_DELAY = int(os.environ.get("ISSUE_LATER_DELAY_MS", "1000")) / 1000
LATER_KEY = None
if os.environ.get("ISSUE_LATER_KEY"):
    with open(os.environ["ISSUE_LATER_KEY"], "rb") as pem:
        LATER_KEY = serialization.load_pem_private_key(pem.read(), password=None)

BASE = f"{PSI_URL}/service-dashboard-backend/service/{SERVICE_DID}"


class ServiceKey:
    """The service's public key as psi publishes it (SPKI PEM)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.fetched_at = 0.0
        self.key = None
        self.fetch()

    def fetch(self):
        url = f"{BASE}/public-info/public-key/{urllib.parse.quote(KEY_NAME)}"
        with urllib.request.urlopen(url, timeout=10) as response:
            key = serialization.load_pem_public_key(response.read())
        with self.lock:
            self.key, self.fetched_at = key, time.monotonic()

    def _valid(self, body, signature):
        try:
            self.key.verify(base64.b64decode(signature, validate=True), body,
                            padding.PKCS1v15(), hashes.SHA3_256())
            return True
        except (InvalidSignature, ValueError):
            return False

    def verify(self, body, signature):
        if not signature:
            return False
        if self._valid(body, signature):
            return True
        # The key may have been rotated; refetch at most once a minute.
        if time.monotonic() - self.fetched_at < 60:
            return False
        self.fetch()
        return self._valid(body, signature)


def credential_for(call):
    """ISSUE's values, with those the holder presented under the same name."""
    presented = {}
    for credential in call.get("receivedCredentials") or []:
        for field in credential.get("fields") or []:
            presented[field["name"]] = field["value"]
    fields = [{"name": name, "value": presented.get(name, str(value))}
              for name, value in ISSUE.items()]
    return {"credentialId": CREDENTIAL_ID, "fields": fields,
            "utcIssuedAt": int(time.time() * 1000), "revoked": False}


def issue_later(call):
    """Issues through psi with the public async-issue example's body and signature."""
    body = json.dumps({
        "serviceDid": call["publicServiceDid"],
        "subscriberConnectDid": call["subscriberConnectDid"],
        "subscriberEventId": call["actionEventId"],
        "issuedCredentials": [credential_for(call)],
        "revokedCredentials": [],
        "issuedAt": int(time.time() * 1000),
        "ok": True,
    }).encode("utf-8")
    signature = LATER_KEY.sign(body, padding.PKCS1v15(), hashes.SHA3_256())
    request = urllib.request.Request(
        f"{BASE}/webhook-accept/credentials-issued", data=body, method="POST",
        headers={"Content-Type": "application/json",
                 "X-Body-Signature": base64.b64encode(signature).decode("ascii")})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, answer = response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        status, answer = error.code, error.read().decode("utf-8")
    print(f"issued later for event {call['actionEventId']}: HTTP {status} {answer}", flush=True)


class Handler(BaseHTTPRequestHandler):
    def reply(self, status, value):
        data = json.dumps(value).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if not SERVICE_KEY.verify(body, self.headers.get("X-Body-Signature")):
            print(f"{self.path}: refused, the signature does not verify", flush=True)
            return self.reply(401, {"ok": False, "message": "X-Body-Signature does not verify"})
        if not (self.headers.get("Content-Type") or "").startswith("application/json"):
            return self.reply(415, {"ok": False, "message": "expected application/json"})
        call = json.loads(body)
        print(f"{self.path}: event {call['actionEventId']} of {call['actionId']} "
              f"for {call['subscriberConnectDid']}", flush=True)
        now = LATER_KEY is None
        if not now:
            threading.Timer(LATER_DELAY, issue_later, args=(call,)).start()
        self.reply(200, {
            "serviceDid": call["publicServiceDid"],
            "subscriberConnectDid": call["subscriberConnectDid"],
            "actionEventId": call["actionEventId"],
            "issuedCredentials": [credential_for(call)] if now else [],
            "revokedCredentials": [],
            "ok": True,
        })

    def log_message(self, format, *args):
        """Quiet: one line per call is printed above."""


SERVICE_KEY = ServiceKey()

if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
    print(f"listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()
