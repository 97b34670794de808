// A standard OpenID Connect relying party signing in through psi: the unchanged `openid-client`
// runs the authorization code flow with PKCE (S256), state and nonce against the service as
// issuer, and Debian's Chromium (Playwright) goes through psi's authorization page. Then the
// static example site examples/sign-in.html (a public client with no library), served by the same
// server at /sign-in.html with only its `config` values replaced, signs in the same way.
//
//   node tests/browser/oidc.mjs <psi base URL> <service DID> <client id> <client secret> <RP port> \
//     <example client id>
//
// Run by crates/psi-cli/tests/it/oidc.rs, which registered `http://127.0.0.1:<RP port>/callback`
// as the client's redirect URI and `http://127.0.0.1:<RP port>/sign-in.html` as the example's.
// For each sign-in the script prints the authorization page's app link as `LINK <link>` (the test
// runs it with `psi wallet run`). Once the relying party has exchanged the code, validated the
// id_token and called userinfo, it prints `RESULT {"claims", "userinfo"}`; once the example shows
// who signed in, `EXAMPLE <the claims it shows>`.
// Exit code 0 on success; otherwise `ERROR <message>` on stdout and exit code 1.
// Screenshots go to test-artifacts/browser/ at the repository root.
import { createServer } from "node:http";
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as oidc from "openid-client";
import { launchChromium } from "./chromium.mjs";

const [base, serviceDid, clientId, clientSecret, rpPort, exampleClientId] = process.argv.slice(2);
if (!exampleClientId) {
  console.error(
    "usage: node oidc.mjs <psi base URL> <service DID> <client id> <client secret> <RP port> <example client id>",
  );
  process.exit(2);
}
const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const artifacts = join(root, "test-artifacts", "browser");
mkdirSync(artifacts, { recursive: true });

const rp = `http://127.0.0.1:${rpPort}`;
const redirectUri = `${rp}/callback`;
const exampleUri = `${rp}/sign-in.html`;
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

// The example as a user serves it, with this psi and this client in its `config`: each value must
// be there exactly once, so a changed example fails here rather than signing in somewhere else.
function examplePage() {
  let html = readFileSync(join(root, "examples", "sign-in.html"), "utf8");
  for (const [from, to] of [
    ['psi: "http://127.0.0.1:8080"', `psi: ${JSON.stringify(base)}`],
    ['clientId: "example-site"', `clientId: ${JSON.stringify(exampleClientId)}`],
  ]) {
    if (html.split(from).length !== 2) fail(`examples/sign-in.html has not exactly one ${from}`);
    html = html.replace(from, () => to);
  }
  return html;
}
const example = examplePage();

const server = createServer((request, response) => {
  const path = new URL(request.url, rp).pathname;
  if (path === "/sign-in.html") {
    response.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    response.end(example);
    return;
  }
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

const browser = await launchChromium().catch((error) =>
  fail(`Chromium does not start: ${error.message}`),
);

/// A page in a fresh context whose script errors, console errors and CSP violations (on every
/// document it shows) are collected: psi's pages and the example must work without any.
async function watchedPage() {
  const context = await browser.newContext(DESKTOP);
  const violations = [];
  await context.exposeBinding("__violation", (_source, text) => violations.push(text));
  await context.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (event) => {
      window.__violation(`${event.violatedDirective} ${event.blockedURI} (${event.documentURI})`);
    });
  });
  const page = await context.newPage();
  const problems = [];
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`console: ${message.text()} (${message.location().url})`);
  });
  const check = (where) => {
    assert(violations.length === 0, `CSP violations ${where}: ${violations.join("; ")}`);
    assert(problems.length === 0, `${where}: ${problems.join("; ")}`);
  };
  return { context, page, check };
}

/// The authorization page the browser is on: its app link, printed for the wallet.
async function authorizationLink(page, name) {
  assert(
    page.url().startsWith(`${base}/oauth2/authorization/`),
    `the sign-in did not land on psi's authorization page: ${page.url()}`,
  );
  step = `reading the authorization page (${name})`;
  await page.locator("svg.qr-code").waitFor();
  const link = await page.locator("#link").inputValue();
  assert(link.includes("/native/execute/"), `not an app link: ${link}`);
  assert((await page.locator("a#open").getAttribute("href")) === link, "the link as an <a href>");
  await page.locator("#status").getByText("Waiting for the app").waitFor();
  await page.screenshot({ path: join(artifacts, `${name}-authorization.png`), fullPage: true });
  return link;
}

let failure;
try {
  const { context, page, check } = await watchedPage();
  step = "opening the site's login";
  await page.goto(`${rp}/login`);
  const link = await authorizationLink(page, "oidc");
  check("on psi's page");
  // The test harness runs the link with `psi wallet run`.
  console.log(`LINK ${link}`);

  step = "waiting for the holder and the site's callback";
  await page.waitForURL((url) => url.href.startsWith(`${redirectUri}?`), { timeout: SIGN_IN_TIMEOUT_MS });
  await page.waitForLoadState("load");
  assert(!callbackError, `the relying party failed: ${callbackError}`);
  const heading = await page.locator("#signed-in").textContent();
  assert(signedIn && heading === `Signed in as ${signedIn.claims.sub}`, `the site shows: ${heading}`);
  await page.screenshot({ path: join(artifacts, "oidc-signed-in.png"), fullPage: true });
  check("on the way");
  await context.close();

  // The static example: its button starts the flow, and it exchanges the code in the browser.
  const tab = await watchedPage();
  step = "opening the example site";
  await tab.page.goto(exampleUri);
  await tab.page.getByRole("button", { name: "Sign in with a credential" }).click();
  await tab.page.waitForURL((url) => url.href.startsWith(`${base}/oauth2/authorization/`));
  const exampleLink = await authorizationLink(tab.page, "sign-in-example");
  tab.check("on psi's page for the example");
  console.log(`LINK ${exampleLink}`);

  step = "waiting for the holder and the example's sign-in";
  // The example takes the code out of the address bar at once, so what it shows is waited for.
  await tab.page.locator("#signed-in, #failed").waitFor({ timeout: SIGN_IN_TIMEOUT_MS });
  const failed = tab.page.locator("#failed");
  if (await failed.count()) throw new Error(`the example shows: ${await failed.textContent()}`);
  const shown = JSON.parse(await tab.page.locator("#claims").textContent());
  console.log(`EXAMPLE ${JSON.stringify(shown)}`);
  const said = await tab.page.locator("#signed-in").textContent();
  assert(said === `Signed in as ${shown.sub}`, `the example shows: ${said}`);
  // The code leaves the address bar once used.
  assert(tab.page.url() === exampleUri, `the example's address: ${tab.page.url()}`);
  assert(await tab.page.getByRole("button", { name: "Sign in with a credential" }).isHidden(), "the button stays");
  await tab.page.screenshot({ path: join(artifacts, "sign-in-example-signed-in.png"), fullPage: true });
  tab.check("on the example's way");
  await tab.context.close();
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
