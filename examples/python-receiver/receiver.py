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

It also receives psi's event notifications on POST /notifications (the endpoints a service
registers with POST /api/v1/services/<DID>/endpoints): each call is verified by its
X-Body-Signature (auth `signature`) or its `Authorization: Bearer` HS256 token (auth `bearer` with
a SHA secret key), a repeated `messageId` is dropped, and the type and key fields are printed.

Settings (environment): PSI_URL, SERVICE_DID, CREDENTIAL_ID, ISSUE (JSON object, default {}),
KEY_NAME (default "default"), PORT (default 4604; 0 picks a free one), ISSUE_LATER_KEY,
ISSUE_LATER_DELAY_MS (default 1000), PSI_SHARED_SECRET (the SHA secret key of `bearer`
notification endpoints, in standard base64 as psi shows it once at creation; unset: bearer calls
are refused).

Run: PSI_URL=http://127.0.0.1:8080 SERVICE_DID=... CREDENTIAL_ID=... python3 receiver.py
"""

import base64
import hashlib
import hmac
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
SHARED_SECRET = (base64.b64decode(os.environ["PSI_SHARED_SECRET"])
                 if os.environ.get("PSI_SHARED_SECRET") else None)
# Clock skew allowed on a Bearer token's `exp`, as psi allows on the tokens it receives.
LEEWAY_SECONDS = 60

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


def b64url(segment):
    """base64url without padding, as JWTs use it."""
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def bearer_valid(body, authorization):
    """An `Authorization: Bearer <JWT>` psi made for this body: HS256 with the shared secret, not
    expired, issued by the service, and bound to these exact bytes by `body_sha3_256` (psi always
    sets it; without it a token seen once could be replayed with another body until it
    expires)."""
    if SHARED_SECRET is None or not (authorization or "").startswith("Bearer "):
        return False
    try:
        header, payload, signature = authorization[len("Bearer "):].split(".")
        # Only HS256: taking `alg` from the token would let `none` or an RS256 key confusion in.
        if json.loads(b64url(header)).get("alg") != "HS256":
            return False
        expected = hmac.new(SHARED_SECRET, f"{header}.{payload}".encode("ascii"),
                            hashlib.sha256).digest()
        if not hmac.compare_digest(b64url(signature), expected):
            return False
        # Claims are read only once the signature holds.
        claims = json.loads(b64url(payload))
        body_hash = base64.urlsafe_b64encode(hashlib.sha3_256(body).digest()).rstrip(b"=")
        return (isinstance(claims.get("exp"), (int, float))
                and time.time() < claims["exp"] + LEEWAY_SECONDS
                and claims.get("iss") == SERVICE_DID
                and claims.get("body_sha3_256") == body_hash.decode("ascii"))
    except (ValueError, UnicodeError, AttributeError):
        return False  # not three base64url segments of JSON objects


# The `messageId`s handled. psi delivers at least once (a retry after a lost answer, a replay),
# so a repeat must be answered 200 and not acted on twice. In memory for this example only: a
# real receiver keeps them where its work is stored (a unique column, in the same transaction),
# so that they survive a restart and are shared by every instance.
HANDLED = set()
HANDLED_LOCK = threading.Lock()  # requests run on several threads


def summary(n):
    """The fields worth a line, by notification type (crates/psi-server/src/delivery/payload.rs)."""
    kind = n["type"]
    if kind in ("event.completed", "event.failed"):
        outcome = "ok" if n["outcome"]["ok"] else f"failed ({n['outcome'].get('message')})"
        return (f"event {n['actionEventId']} of {n['actionId']} for {n['subscriberConnectDid']}: "
                f"{outcome}, {len(n['issuedCredentials'])} credential(s) issued")
    if kind in ("credential.issued", "credential.revoked"):
        credentials = ", ".join(f"{c['credentialId']} (jti {c['jti']})" for c in n["credentials"])
        return f"{credentials} for {n['subscriberConnectDid']}"
    if kind == "endpoint.disabled":
        return f"endpoint {n['endpointId']} ({n['url']}) failing since {n['failingSince']}"
    return n.get("message", "")


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

    def notification(self, body):
        authorization = self.headers.get("Authorization")
        # An endpoint has one auth: a Bearer token when psi sends one, else the body signature.
        if authorization:
            how, valid = "bearer", bearer_valid(body, authorization)
        else:
            how, valid = "signature", SERVICE_KEY.verify(body, self.headers.get("X-Body-Signature"))
        if not valid:
            print(f"{self.path}: refused, {how} auth does not verify", flush=True)
            return self.reply(401, {"ok": False, "message": "the call is not authenticated"})
        n = json.loads(body)
        with HANDLED_LOCK:
            repeat = n["messageId"] in HANDLED
            HANDLED.add(n["messageId"])
        if repeat:
            print(f"{self.path}: repeat of {n['messageId']}, dropped", flush=True)
        else:
            print(f"{self.path}: {n['type']} {n['messageId']} verified by {how}: {summary(n)}",
                  flush=True)
        self.reply(200, {"ok": True})

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.split("?")[0] == "/notifications":
            return self.notification(body)
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
