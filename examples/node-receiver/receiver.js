'use strict';
// A psi interaction webhook receiver in Node.js, with no dependencies: `http` and `crypto` only.
//
// For each call it
//   1. reads the raw body (the signature covers these exact bytes, so verify before parsing),
//   2. checks `X-Body-Signature` (RSA PKCS#1 v1.5 with SHA3-256, base64) with the service's public
//      key, fetched from psi's public-key endpoint at start (and again when a signature fails,
//      in case the key was rotated),
//   3. answers like the public Node examples: the credential CREDENTIAL_ID issued now, with the
//      values in ISSUE; an attribute the holder presented under the same name takes that value.
//
// With ISSUE_LATER_KEY (a PEM private key whose public half the service lists among the
// definition's `issuers`) it answers "nothing now" instead and issues ISSUE_LATER_DELAY_MS later
// through psi's `credentials-issued` endpoint, signed, as the public async-issue example does.
//
// It also receives psi's event notifications on POST /notifications (the endpoints a service
// registers with POST /api/v1/services/<DID>/endpoints): each call is verified by its
// X-Body-Signature (auth `signature`) or its `Authorization: Bearer` HS256 token (auth `bearer`
// with a SHA secret key), a repeated `messageId` is dropped, and the type and key fields are
// printed.
//
// Settings (environment):
//   PSI_URL            psi's base URL, e.g. http://127.0.0.1:8080
//   SERVICE_DID        the service's public DID
//   CREDENTIAL_ID      the credential definition to issue, <DID>:3:CL:<n>:<tag>
//   ISSUE              JSON object of attribute values, e.g. {"Level":"gold"} (default {})
//   KEY_NAME           the service key that signs webhooks (default "default")
//   PORT               port on 127.0.0.1 (default 4604; 0 picks a free one)
//   ISSUE_LATER_KEY, ISSUE_LATER_DELAY_MS (default 1000)
//   PSI_SHARED_SECRET  the SHA secret key of `bearer` notification endpoints, in standard base64
//                      as psi shows it once at creation (unset: bearer calls are refused)
//
// Run: PSI_URL=http://127.0.0.1:8080 SERVICE_DID=... CREDENTIAL_ID=... node receiver.js

const crypto = require('crypto');
const fs = require('fs');
const http = require('http');

const settings = {
  psiUrl: required('PSI_URL').replace(/\/+$/, ''),
  serviceDid: required('SERVICE_DID'),
  credentialId: required('CREDENTIAL_ID'),
  issue: JSON.parse(process.env.ISSUE || '{}'),
  keyName: process.env.KEY_NAME || 'default',
  port: Number(process.env.PORT || 4604),
  laterKey: process.env.ISSUE_LATER_KEY
    ? crypto.createPrivateKey(fs.readFileSync(process.env.ISSUE_LATER_KEY))
    : null,
  laterDelayMs: Number(process.env.ISSUE_LATER_DELAY_MS || 1000),
  sharedSecret: process.env.PSI_SHARED_SECRET
    ? Buffer.from(process.env.PSI_SHARED_SECRET, 'base64')
    : null,
};

function required(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`error: set ${name}`);
    process.exit(2);
  }
  return value;
}

const base = `${settings.psiUrl}/service-dashboard-backend/service/${settings.serviceDid}`;
let serviceKey = null;
let fetchedAt = 0;

// The service's public key (SPKI PEM), as psi publishes it.
async function fetchServiceKey() {
  const response = await fetch(`${base}/public-info/public-key/${encodeURIComponent(settings.keyName)}`);
  if (!response.ok) throw new Error(`public key: HTTP ${response.status}`);
  serviceKey = crypto.createPublicKey(await response.text());
  fetchedAt = Date.now();
}

function signatureValid(body, signature) {
  if (!signature) return false;
  // For RSA keys crypto.verify uses PKCS#1 v1.5 padding.
  return crypto.verify('sha3-256', body, serviceKey, Buffer.from(signature, 'base64'));
}

// A failed check fetches the key again (it may have been rotated), at most once a minute so bad
// calls cannot make the receiver hammer psi.
async function verify(body, signature) {
  if (signatureValid(body, signature)) return true;
  if (Date.now() - fetchedAt < 60_000) return false;
  await fetchServiceKey();
  return signatureValid(body, signature);
}

// Clock skew allowed on a Bearer token's `exp`, as psi allows on the tokens it receives.
const LEEWAY_SECONDS = 60;

// An `Authorization: Bearer <JWT>` psi made for this body: HS256 with the shared secret, not
// expired, issued by the service, and bound to these exact bytes by `body_sha3_256` (psi always
// sets it; without it a token seen once could be replayed with another body until it expires).
function bearerValid(body, authorization) {
  const match = /^Bearer ([\w-]+)\.([\w-]+)\.([\w-]+)$/.exec(authorization || '');
  if (!settings.sharedSecret || !match) return false;
  const [, header, payload, signature] = match;
  const decode = (segment) => JSON.parse(Buffer.from(segment, 'base64url').toString('utf-8'));
  try {
    // Only HS256: taking `alg` from the token would let `none` or an RS256 key confusion in.
    if (decode(header).alg !== 'HS256') return false;
    const expected = crypto.createHmac('sha256', settings.sharedSecret)
      .update(`${header}.${payload}`).digest();
    const given = Buffer.from(signature, 'base64url');
    // timingSafeEqual needs equal lengths; the length of a MAC is no secret.
    if (given.length !== expected.length || !crypto.timingSafeEqual(given, expected)) return false;
    // Claims are read only once the signature holds.
    const claims = decode(payload);
    const hash = crypto.createHash('sha3-256').update(body).digest('base64url');
    return typeof claims.exp === 'number'
      && Date.now() / 1000 < claims.exp + LEEWAY_SECONDS
      && claims.iss === settings.serviceDid
      && claims.body_sha3_256 === hash;
  } catch {
    return false; // a segment that is not base64url JSON
  }
}

// The `messageId`s handled. psi delivers at least once (a retry after a lost answer, a replay),
// so a repeat must be answered 200 and not acted on twice. In memory for this example only: a
// real receiver keeps them where its work is stored (a unique column, in the same transaction),
// so that they survive a restart and are shared by every instance.
const handled = new Set();

// The fields worth a line, by notification type (crates/psi-server/src/delivery/payload.rs).
function summary(n) {
  switch (n.type) {
    case 'event.completed':
    case 'event.failed':
      return `event ${n.actionEventId} of ${n.actionId} for ${n.subscriberConnectDid}: `
        + `${n.outcome.ok ? 'ok' : `failed (${n.outcome.message})`}, `
        + `${n.issuedCredentials.length} credential(s) issued`;
    case 'credential.issued':
    case 'credential.revoked':
      return `${n.credentials.map((c) => `${c.credentialId} (jti ${c.jti})`).join(', ')} `
        + `for ${n.subscriberConnectDid}`;
    case 'endpoint.disabled':
      return `endpoint ${n.endpointId} (${n.url}) failing since ${n.failingSince}`;
    default:
      return n.message || '';
  }
}

async function notification(req, res, body) {
  const authorization = req.headers.authorization;
  // An endpoint has one auth: a Bearer token when psi sends one, else the body signature.
  const how = authorization ? 'bearer' : 'signature';
  const valid = authorization
    ? bearerValid(body, authorization)
    : await verify(body, req.headers['x-body-signature']);
  if (!valid) {
    console.log(`${req.url}: refused, ${how} auth does not verify`);
    return reply(res, 401, { ok: false, message: 'the call is not authenticated' });
  }
  const n = JSON.parse(body.toString('utf-8'));
  if (handled.has(n.messageId)) {
    console.log(`${req.url}: repeat of ${n.messageId}, dropped`);
    return reply(res, 200, { ok: true });
  }
  handled.add(n.messageId);
  console.log(`${req.url}: ${n.type} ${n.messageId} verified by ${how}: ${summary(n)}`);
  reply(res, 200, { ok: true });
}

// The credential to issue: ISSUE's values, with those the holder presented under the same name.
function credentialFor(call) {
  const presented = new Map();
  for (const credential of call.receivedCredentials || []) {
    for (const field of credential.fields || []) presented.set(field.name, field.value);
  }
  const fields = Object.entries(settings.issue).map(([name, value]) => ({
    name,
    value: presented.has(name) ? presented.get(name) : String(value),
  }));
  return { credentialId: settings.credentialId, fields, utcIssuedAt: Date.now(), revoked: false };
}

// Issues later through psi, with the public async-issue example's body and signature.
async function issueLater(call) {
  const body = Buffer.from(JSON.stringify({
    serviceDid: call.publicServiceDid,
    subscriberConnectDid: call.subscriberConnectDid,
    subscriberEventId: call.actionEventId,
    issuedCredentials: [credentialFor(call)],
    revokedCredentials: [],
    issuedAt: Date.now(),
    ok: true,
  }), 'utf-8');
  const signature = crypto.sign('sha3-256', body, settings.laterKey).toString('base64');
  const response = await fetch(`${base}/webhook-accept/credentials-issued`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Body-Signature': signature },
    body,
  });
  const answer = await response.json();
  console.log(`issued later for event ${call.actionEventId}: HTTP ${response.status} ${JSON.stringify(answer)}`);
}

function reply(res, status, value) {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(value));
}

async function handle(req, res) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const body = Buffer.concat(chunks);
  if (req.method !== 'POST') return reply(res, 405, { ok: false, message: 'POST only' });
  if (req.url.split('?')[0] === '/notifications') return notification(req, res, body);
  if (!(await verify(body, req.headers['x-body-signature']))) {
    console.log(`${req.url}: refused, the signature does not verify`);
    return reply(res, 401, { ok: false, message: 'X-Body-Signature does not verify' });
  }
  if (!(req.headers['content-type'] || '').startsWith('application/json')) {
    return reply(res, 415, { ok: false, message: 'expected application/json' });
  }
  const call = JSON.parse(body.toString('utf-8'));
  console.log(`${req.url}: event ${call.actionEventId} of ${call.actionId} for ${call.subscriberConnectDid}`);
  const now = !settings.laterKey;
  if (!now) {
    setTimeout(() => issueLater(call).catch((e) => console.error(`error: issuing later: ${e.message}`)),
      settings.laterDelayMs);
  }
  reply(res, 200, {
    serviceDid: call.publicServiceDid,
    subscriberConnectDid: call.subscriberConnectDid,
    actionEventId: call.actionEventId,
    issuedCredentials: now ? [credentialFor(call)] : [],
    revokedCredentials: [],
    ok: true,
  });
}

async function main() {
  await fetchServiceKey();
  const server = http.createServer((req, res) => {
    handle(req, res).catch((e) => {
      console.error(`error: ${e.message}`);
      reply(res, 500, { ok: false, message: 'the receiver failed' });
    });
  });
  server.listen(settings.port, '127.0.0.1', () => {
    console.log(`listening on http://127.0.0.1:${server.address().port}`);
  });
}

main().catch((e) => {
  console.error(`error: ${e.message}`);
  process.exit(1);
});
