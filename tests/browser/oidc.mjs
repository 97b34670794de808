// A standard OpenID Connect relying party signing in through psi: the unchanged `openid-client`
// runs the authorization code flow with PKCE (S256), state and nonce against the service as
// issuer, and Debian's Chromium (Playwright) goes through psi's authorization page.
//
//   node tests/browser/oidc.mjs <psi base URL> <service DID> <client id> <client secret> <RP port>
//
// Run by crates/psi-cli/tests/it/oidc.rs, which registered `http://127.0.0.1:<RP port>/callback`
// as the client's redirect URI. The script prints the authorization page's app link as
// `LINK <link>` (the test runs it with `psi wallet run`), and, once the relying party has
// exchanged the code, validated the id_token and called userinfo, `RESULT {"claims", "userinfo"}`.
// Exit code 0 on success; otherwise `ERROR <message>` on stdout and exit code 1.
// Screenshots go to test-artifacts/browser/ at the repository root.
import { createServer } from "node:http";
import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as oidc from "openid-client";
import { chromium } from "playwright-core";

const [base, serviceDid, clientId, clientSecret, rpPort] = process.argv.slice(2);
if (!rpPort) {
  console.error("usage: node oidc.mjs <psi base URL> <service DID> <client id> <client secret> <RP port>");
  process.exit(2);
}
const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const artifacts = join(root, "test-artifacts", "browser");
mkdirSync(artifacts, { recursive: true });

const rp = `http://127.0.0.1:${rpPort}`;
const redirectUri = `${rp}/callback`;
const DESKTOP = { viewport: { width: 1280, height: 900 } };
/// How long the holder has, from the link on the page to the site's signed-in page.
const SIGN_IN_TIMEOUT_MS = 60_000;

function fail(message) {
  console.log(`ERROR ${message}`);
  process.exit(1);
}
// Nothing may hang past the test's patience: a stuck step fails with what was waited for.
let step = "starting";
const watchdog = setTimeout(() => fail(`timed out while ${step}`), SIGN_IN_TIMEOUT_MS + 30_000);
watchdog.unref();

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

const escape = (text) =>
  String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

// The relying party, configured from psi's discovery document. Plain http on loopback needs
// openid-client's explicit opt-in; the non-repudiation checks make it verify the id_token's
// signature with the keys of the discovered `jwks_uri` too (TLS alone would let it skip that).
step = "discovering the issuer";
const issuer = new URL(`${base}/oauth2/${serviceDid}`);
const config = await oidc
  .discovery(issuer, clientId, undefined, oidc.ClientSecretBasic(clientSecret), {
    execute: [oidc.allowInsecureRequests, oidc.enableNonRepudiationChecks],
  })
  .catch((error) => fail(`discovery of ${issuer.href}: ${error.message}`));

/// Login sessions by the RP's own cookie: what the callback must check the answer against.
const sessions = new Map();
let signedIn;
let callbackError;

function sessionOf(request) {
  const cookie = (request.headers.cookie || "").split(/;\s*/).find((c) => c.startsWith("rp_session="));
  return cookie && sessions.get(cookie.slice("rp_session=".length));
}

async function login(response) {
  const pkceCodeVerifier = oidc.randomPKCECodeVerifier();
  const session = { pkceCodeVerifier, expectedState: oidc.randomState(), expectedNonce: oidc.randomNonce() };
  const id = randomBytes(16).toString("base64url");
  sessions.set(id, session);
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: "openid",
    code_challenge: await oidc.calculatePKCECodeChallenge(pkceCodeVerifier),
    code_challenge_method: "S256",
    state: session.expectedState,
    nonce: session.expectedNonce,
  });
  response.writeHead(302, {
    location: url.href,
    "set-cookie": `rp_session=${id}; Path=/; HttpOnly; SameSite=Lax`,
  });
  response.end();
}

async function callback(request, response) {
  const session = sessionOf(request);
  assert(session, "the callback came without the login's session cookie");
  const tokens = await oidc.authorizationCodeGrant(config, new URL(request.url, rp), {
    ...session,
    idTokenExpected: true,
  });
  const claims = tokens.claims();
  const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
  signedIn = { claims, userinfo };
  console.log(`RESULT ${JSON.stringify(signedIn)}`);
  response.writeHead(200, { "content-type": "text/html; charset=utf-8" });
  response.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title></head>
<body><h1 id="signed-in">Signed in as ${escape(claims.sub)}</h1>
<p>Name: ${escape(userinfo.name ?? "")}</p></body></html>`);
}

const server = createServer((request, response) => {
  const path = new URL(request.url, rp).pathname;
  const handler =
    path === "/login" ? login(response) : path === "/callback" ? callback(request, response) : null;
  if (!handler) {
    // The browser asks for the site's icon, which it has none of.
    response.writeHead(path === "/favicon.ico" ? 204 : 404).end();
    return;
  }
  handler.catch((error) => {
    callbackError = `${path}: ${error.message}${error.cause ? ` (${JSON.stringify(error.cause)})` : ""}`;
    response.writeHead(500, { "content-type": "text/plain; charset=utf-8" });
    response.end(`Sign-in failed: ${callbackError}`);
  });
});
step = `listening on ${rp}`;
await new Promise((resolve) => {
  server.once("error", (error) => fail(`the relying party cannot listen on ${rp}: ${error.message}`));
  server.listen(Number(rpPort), "127.0.0.1", resolve);
});

// Playwright starts Chromium with a fresh temporary --user-data-dir of its own and removes it after.
const browser = await chromium.launch({
  executablePath: process.env.PSI_CHROMIUM || "/usr/bin/chromium",
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
  headless: true,
}).catch((error) => fail(`Chromium does not start: ${error.message}`));
let failure;
try {
  const context = await browser.newContext(DESKTOP);
  // psi's page must work under its own CSP, without script errors.
  await context.addInitScript(() => {
    window.__violations = [];
    document.addEventListener("securitypolicyviolation", (event) => {
      window.__violations.push(`${event.violatedDirective} ${event.blockedURI}`);
    });
  });
  const page = await context.newPage();
  const problems = [];
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`console: ${message.text()} (${message.location().url})`);
  });

  step = "opening the site's login";
  await page.goto(`${rp}/login`);
  assert(
    page.url().startsWith(`${base}/oauth2/authorization/`),
    `the login did not land on psi's authorization page: ${page.url()}`,
  );
  step = "reading the authorization page";
  await page.locator("svg.qr-code").waitFor();
  const link = await page.locator("#link").inputValue();
  assert(link.includes("/native/execute/"), `not an app link: ${link}`);
  assert((await page.locator("a#open").getAttribute("href")) === link, "the link as an <a href>");
  await page.locator("#status").getByText("Waiting for the app").waitFor();
  await page.screenshot({ path: join(artifacts, "oidc-authorization.png"), fullPage: true });
  const violations = await page.evaluate(() => window.__violations);
  assert(violations.length === 0, `CSP violations on psi's page: ${violations.join("; ")}`);
  // The test harness runs the link with `psi wallet run`.
  console.log(`LINK ${link}`);

  step = "waiting for the holder and the site's callback";
  await page.waitForURL((url) => url.href.startsWith(`${redirectUri}?`), { timeout: SIGN_IN_TIMEOUT_MS });
  await page.waitForLoadState("load");
  assert(!callbackError, `the relying party failed: ${callbackError}`);
  const heading = await page.locator("#signed-in").textContent();
  assert(signedIn && heading === `Signed in as ${signedIn.claims.sub}`, `the site shows: ${heading}`);
  await page.screenshot({ path: join(artifacts, "oidc-signed-in.png"), fullPage: true });
  assert(problems.length === 0, problems.join("; "));
  await context.close();
} catch (error) {
  failure =
    callbackError && !error.message.includes(callbackError)
      ? `${error.message} (relying party: ${callbackError})`
      : error.message;
} finally {
  await browser.close();
  server.close();
}
if (failure) fail(`${step}: ${failure}`);
process.exit(0);
