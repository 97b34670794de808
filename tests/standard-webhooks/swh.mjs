// The official Standard Webhooks library for Node (npm `standardwebhooks`), unchanged, as a
// third party uses it against psi. Two commands:
//
//   node swh.mjs receive
//     A receiver on 127.0.0.1 (PORT, default 0) whose every POST must verify with WEBHOOK_SECRET
//     (401 otherwise). Prints `listening on <url>`, then `verified <path> <webhook-id>` or
//     `refused <path>: <why>` per call. Answers `/hook` as an interaction webhook that issues
//     nothing now, `/check` as a credential check that passes, anything else with `{}`.
//
//   node swh.mjs sign <secret> <webhook-id> <unix-seconds> < body
//     Prints the `webhook-signature` of the body.
import { createServer } from "node:http";
import { readFileSync } from "node:fs";
import standardwebhooks from "standardwebhooks";

const { Webhook } = standardwebhooks;
const [command, ...args] = process.argv.slice(2);

function answer(path, body) {
  if (path === "/hook") {
    return {
      serviceDid: body.publicServiceDid,
      subscriberConnectDid: body.subscriberConnectDid,
      actionEventId: body.actionEventId,
      issuedCredentials: [],
      revokedCredentials: [],
      ok: true,
    };
  }
  return path === "/check" ? { ok: true } : {};
}

if (command === "receive") {
  const webhook = new Webhook(process.env.WEBHOOK_SECRET);
  const server = createServer((request, response) => {
    const chunks = [];
    request.on("data", (chunk) => chunks.push(chunk));
    request.on("end", () => {
      const raw = Buffer.concat(chunks);
      let reply;
      try {
        const body = webhook.verify(raw, request.headers);
        console.log(`verified ${request.url} ${request.headers["webhook-id"]}`);
        reply = [200, answer(request.url, body)];
      } catch (error) {
        console.log(`refused ${request.url}: ${error.message}`);
        reply = [401, { error: error.message }];
      }
      response.writeHead(reply[0], { "content-type": "application/json" });
      response.end(JSON.stringify(reply[1]));
    });
  });
  server.listen(Number(process.env.PORT ?? 0), "127.0.0.1", () => {
    console.log(`listening on http://127.0.0.1:${server.address().port}`);
  });
} else if (command === "sign" && args.length === 3) {
  const [secret, id, seconds] = args;
  const body = readFileSync(0);
  console.log(new Webhook(secret).sign(id, new Date(Number(seconds) * 1000), body));
} else {
  console.error("usage: node swh.mjs receive | sign <secret> <webhook-id> <unix-seconds> < body");
  process.exit(2);
}
