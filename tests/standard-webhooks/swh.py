"""The official Standard Webhooks library for Python (PyPI `standardwebhooks`), unchanged, as a
third party uses it against psi. Two commands:

  python3 swh.py receive
    A receiver on 127.0.0.1 (PORT, default 0) whose every POST must verify with WEBHOOK_SECRET
    (401 otherwise). Prints `listening on <url>`, then `verified <path> <webhook-id>` or
    `refused <path>: <why>` per call. Answers `/hook` as an interaction webhook that issues
    nothing now, `/check` as a credential check that passes, anything else with `{}`.

  python3 swh.py sign <secret> <webhook-id> <unix-seconds> < body
    Prints the `webhook-signature` of the body.
"""

import json
import os
import sys
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook


def answer(path, body):
    if path == "/hook":
        return {
            "serviceDid": body.get("publicServiceDid"),
            "subscriberConnectDid": body.get("subscriberConnectDid"),
            "actionEventId": body.get("actionEventId"),
            "issuedCredentials": [],
            "revokedCredentials": [],
            "ok": True,
        }
    return {"ok": True} if path == "/check" else {}


class Handler(BaseHTTPRequestHandler):
    webhook = None

    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("content-length", 0)))
        try:
            body = self.webhook.verify(raw, dict(self.headers.items()))
            print(f"verified {self.path} {self.headers.get('webhook-id')}", flush=True)
            status, reply = 200, answer(self.path, body)
        except Exception as error:  # the library's WebhookVerificationError, or bad JSON
            print(f"refused {self.path}: {error}", flush=True)
            status, reply = 401, {"error": str(error)}
        data = json.dumps(reply).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def main(command, *args):
    if command == "receive" and not args:
        Handler.webhook = Webhook(os.environ["WEBHOOK_SECRET"])
        server = ThreadingHTTPServer(("127.0.0.1", int(os.environ.get("PORT", "0"))), Handler)
        print(f"listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
        server.serve_forever()
    elif command == "sign" and len(args) == 3:
        secret, webhook_id, seconds = args
        body = sys.stdin.buffer.read().decode()
        at = datetime.fromtimestamp(int(seconds), tz=timezone.utc)
        print(Webhook(secret).sign(webhook_id, at, body))
    else:
        sys.exit("usage: python3 swh.py receive | sign <secret> <webhook-id> <unix-seconds> < body")


if __name__ == "__main__":
    main(*(sys.argv[1:] or ["help"]))
