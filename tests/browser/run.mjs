// Real-browser tests of psi's web pages, driving Debian's Chromium with Playwright.
//
//   node tests/browser/run.mjs <base-url>
//
// The fixture (service DID, interaction, the demo's app link, ...) comes as JSON in the
// environment variable PSI_BROWSER_FIXTURE; crates/psi-cli/tests/it/browser.rs starts the server,
// seeds it and runs this script. For the live-status case the script prints `LINK <link>` on
// stdout and waits for the page to show the completed event: the test runs the link with the
// wallet simulator (`psi wallet run`).
// Screenshots go to test-artifacts/browser/ at the repository root.
import { createServer } from "node:http";
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import jsQR from "jsqr";
import { PNG } from "pngjs";
import { launchChromium } from "./chromium.mjs";

const base = process.argv[2];
const fixture = JSON.parse(process.env.PSI_BROWSER_FIXTURE || "{}");
if (!base || !fixture.did) {
  console.error("usage: PSI_BROWSER_FIXTURE='{...}' node run.mjs <base-url>");
  process.exit(2);
}
const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const artifacts = join(root, "test-artifacts", "browser");
mkdirSync(artifacts, { recursive: true });

const UA = {
  chromeAndroid:
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82 Mobile Safari/537.36",
  safariIos:
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
  samsung:
    "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36",
  instagramIos:
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 Instagram 325.0.0.35.91 (iPhone15,2; iOS 17_4; en_US; en; scale=3.00; 1179x2556; 591206071)",
};
const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 };
const DESKTOP = { viewport: { width: 1280, height: 900 } };

const startPath = `/s/${fixture.did}/${fixture.interaction}/start.html`;

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

/// The link a psi link carries, as JSON (psiSession included).
function payloadJson(link) {
  const payload = link.slice(link.lastIndexOf("/") + 1);
  return JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
}

async function decodeQr(locator) {
  const png = PNG.sync.read(await locator.screenshot());
  const code = jsQR(new Uint8ClampedArray(png.data), png.width, png.height);
  assert(code, "the QR code does not decode");
  return code.data;
}

/// A page that records console errors and CSP violations.
async function watchedPage(browser, options) {
  const context = await browser.newContext(options);
  await context.addInitScript(() => {
    window.__violations = [];
    document.addEventListener("securitypolicyviolation", (event) => {
      window.__violations.push(`${event.violatedDirective} ${event.blockedURI}`);
    });
  });
  const page = await context.newPage();
  const problems = [];
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`console: ${message.text()}`);
  });
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.check = async (allowedStatus = []) => {
    const violations = await page.evaluate(() => window.__violations);
    const unexpected = problems.filter(
      (p) => !allowedStatus.some((status) => p.includes(`status of ${status}`)),
    );
    assert(violations.length === 0, `CSP violations: ${violations.join("; ")}`);
    assert(unexpected.length === 0, unexpected.join("; "));
  };
  return { context, page };
}

const cases = [];
function test(name, run) {
  cases.push({ name, run });
}

test("desktop start page shows a QR code whose content is the link", async (browser) => {
  const { context, page } = await watchedPage(browser, DESKTOP);
  const response = await page.goto(base + startPath);
  assert(response.status() === 200, `status ${response.status()}`);
  await page.locator("svg.qr-code").waitFor();
  const link = await page.locator("#link").inputValue();
  assert((await page.locator("a#open").getAttribute("href")) === link, "the link as an <a href>");
  const decoded = await decodeQr(page.locator("svg.qr-code"));
  assert(decoded === link, `QR ${decoded} != link ${link}`);
  const request = payloadJson(link);
  assert(request.actionId === fixture.interaction, "actionId");
  assert(!("callback" in request), "a desktop link carries no callback");
  assert(/^[A-Za-z0-9_-]{22}$/.test(request.psiSession), "session");
  assert((await page.locator("h1").textContent()) === fixture.name, "name");
  await page.locator("#status").getByText("Waiting for the app").waitFor();
  await page.screenshot({ path: join(artifacts, "start-desktop.png"), fullPage: true });
  await page.check();
  await context.close();
});

for (const [label, ua, expected] of [
  ["Chrome on Android", UA.chromeAndroid, () => "googlechrome://"],
  ["Safari on iPhone", UA.safariIos, (page) => page.url()],
  ["Samsung Internet", UA.samsung, () => undefined],
]) {
  test(`phone start page (${label}) links with the right callback`, async (browser) => {
    const { context, page } = await watchedPage(browser, { ...PHONE, userAgent: ua });
    await page.goto(`${base}${startPath}?instance=${fixture.instance}`);
    const button = page.locator("a#start");
    await button.waitFor();
    assert((await page.locator("svg.qr-code").count()) === 0, "no QR code on a phone");
    const box = await button.boundingBox();
    const width = PHONE.viewport.width;
    assert(box && box.width > 0.8 * width, `the button spans the screen (${box && box.width}/${width})`);
    const request = payloadJson(await button.getAttribute("href"));
    assert(request.callback === expected(page), `callback ${request.callback} for ${label}`);
    const name = label.toLowerCase().replace(/[^a-z]+/g, "-");
    await page.screenshot({ path: join(artifacts, `start-phone-${name}.png`), fullPage: true });
    await page.check();
    await context.close();
  });
}

test("live status shows the completed event and redirects", async (browser) => {
  const { context, page } = await watchedPage(browser, DESKTOP);
  const redirect = `${base}/healthz`;
  await page.goto(`${base}${startPath}?redirect=${encodeURIComponent(redirect)}`);
  const status = page.locator("#status");
  await status.getByText("Waiting for the app").waitFor();
  const link = await page.locator("#link").inputValue();
  assert(/^[A-Za-z0-9_-]{22}$/.test(payloadJson(link).psiSession), "the link carries the session");
  // The test harness runs the link with `psi wallet run`.
  console.log(`LINK ${link}`);
  await page.locator('#status[data-state="completed"]').waitFor({ timeout: 30000 });
  await page.screenshot({ path: join(artifacts, "start-completed.png"), fullPage: true });
  await page.check();
  await page.waitForURL(redirect, { timeout: 10000 });
  await context.close();
});

const landingPath = () => `/native/execute/${fixture.app_link.slice(fixture.app_link.lastIndexOf("/") + 1)}`;

/// Opens the landing page of the fixture's app link and checks what every device gets: the
/// interaction's name and both store buttons.
async function openLanding(browser, options) {
  const watched = await watchedPage(browser, options);
  const response = await watched.page.goto(base + landingPath());
  assert(response.status() === 200, `status ${response.status()}`);
  assert((await watched.page.locator("h1").textContent()) === fixture.name, "the interaction's name");
  assert((await watched.page.locator("#app-store").getAttribute("href")) === fixture.app_store_url, "App Store");
  assert((await watched.page.locator("#google-play").getAttribute("href")) === fixture.google_play_url, "Google Play");
  return watched;
}

/// An `intent:` link taken apart: the deep link it opens and its extras, decoded.
function parseIntent(href) {
  const match = /^intent:\/\/([^#]+)#Intent;(.*);end$/.exec(href);
  assert(match, `an intent: link: ${href}`);
  const extras = {};
  for (const part of match[2].split(";")) {
    const at = part.indexOf("=");
    assert(at > 0, `key=value: ${part}`);
    extras[part.slice(0, at)] = decodeURIComponent(part.slice(at + 1));
  }
  return { deepLink: `${extras.scheme}://${match[1]}`, extras };
}

test("landing page on an Android phone opens the app through an intent: link with the store as fallback", async (browser) => {
  const { context, page } = await openLanding(browser, { ...PHONE, userAgent: UA.chromeAndroid });
  const href = await page.locator("#open-app").getAttribute("href");
  const { deepLink, extras } = parseIntent(href);
  assert(deepLink === fixture.deep_link, `the intent's deep link ${deepLink}`);
  assert(extras.package === fixture.android_package, `package ${extras.package}`);
  assert(extras["S.browser_fallback_url"] === fixture.google_play_url, `fallback ${extras["S.browser_fallback_url"]}`);
  assert(!/[/:?&=]/.test(href.split("S.browser_fallback_url=")[1].replace(/;end$/, "")), "the fallback is encoded");
  assert((await page.locator("svg.qr-code").count()) === 0, "no QR code on a phone");
  assert((await page.locator("#in-app").count()) === 0, "Chrome is no in-app browser");
  const box = await page.locator("#open-app").boundingBox();
  assert(box && box.width > 0.8 * PHONE.viewport.width, "the button spans the screen");
  await page.screenshot({ path: join(artifacts, "landing-android.png"), fullPage: true });
  await page.check();
  await context.close();
});

test("landing page on an iPhone offers the deep link and no QR code", async (browser) => {
  const { context, page } = await openLanding(browser, { ...PHONE, userAgent: UA.safariIos });
  const retry = await page.locator("#open-app").getAttribute("href");
  assert(retry === fixture.deep_link, `retry ${retry}`);
  assert((await page.locator("svg.qr-code").count()) === 0, "no QR code on a phone");
  assert((await page.locator("#in-app").count()) === 0, "Safari is no in-app browser");
  await page.screenshot({ path: join(artifacts, "landing-iphone.png"), fullPage: true });
  await page.check();
  await context.close();
});

test("landing page on a desktop offers the deep link and the QR code of the app link", async (browser) => {
  const { context, page } = await openLanding(browser, DESKTOP);
  const retry = await page.locator("#open-app").getAttribute("href");
  assert(retry === fixture.deep_link, `retry ${retry}`);
  const decoded = await decodeQr(page.locator("svg.qr-code"));
  assert(decoded === fixture.app_link, `QR ${decoded}`);
  await page.screenshot({ path: join(artifacts, "landing-valid.png"), fullPage: true });
  await page.check();
  await context.close();
});

test("landing page in Instagram's browser asks the holder to open their browser", async (browser) => {
  const { context, page } = await openLanding(browser, { ...PHONE, userAgent: UA.instagramIos });
  const note = page.locator("#in-app");
  assert(await note.isVisible(), "the note is shown");
  const text = await note.textContent();
  assert(text.startsWith("You are in Instagram's browser"), `names the app: ${text}`);
  assert(text.includes("Open this page in your browser"), `says what to do: ${text}`);
  const noteBox = await note.boundingBox();
  const titleBox = await page.locator("h1").boundingBox();
  assert(noteBox.y < titleBox.y, "the note is above the title");
  assert(noteBox.y < PHONE.viewport.height / 2, "the note is near the top of the screen");
  assert((await page.locator("#open-app").getAttribute("href")) === fixture.deep_link, "the deep link stays");
  assert((await page.locator("svg.qr-code").count()) === 0, "no QR code on a phone");
  await page.screenshot({ path: join(artifacts, "landing-instagram.png"), fullPage: true });
  await page.check();
  await context.close();
});

test("landing page of a broken payload is a friendly 400 page", async (browser) => {
  const { context, page } = await watchedPage(browser, DESKTOP);
  const broken = Buffer.from('{"actionId": "1", "<b>": ').toString("base64url");
  const response = await page.goto(`${base}/native/execute/${broken}`);
  assert(response.status() === 400, `status ${response.status()}`);
  assert((await page.locator("h1").textContent()) === "This link cannot be opened", "title");
  assert((await page.locator("main p").first().textContent()).startsWith("The link payload is not JSON"), "names the problem");
  await page.screenshot({ path: join(artifacts, "landing-invalid.png"), fullPage: true });
  await page.check([400]);
  await context.close();
});

/// A page of another site that embeds psi with the snippet the link endpoint wrote (it pre-fills
/// `fixture.prefilled`), under a strict CSP unless `csp` is false.
function hostServer({ csp = true } = {}) {
  const server = createServer((request, response) => {
    const html = `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Shop</title></head>
<body><h1>Join our club</h1>
<div id="join">${fixture.embed}</div></body></html>`;
    response.writeHead(200, {
      "content-type": "text/html; charset=utf-8",
      ...(csp && {
        "content-security-policy": `default-src 'none'; script-src ${base}; connect-src ${base}; img-src ${base}`,
      }),
    });
    response.end(html);
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

test("the embed renders a QR code on a desktop and a button on a phone", async (browser) => {
  const server = await hostServer();
  const host = `http://127.0.0.1:${server.address().port}/join.html`;
  try {
    // The pre-filled value makes a denser code: a sharper screenshot keeps it readable.
    const desktop = await watchedPage(browser, { ...DESKTOP, deviceScaleFactor: 2 });
    await desktop.page.goto(host);
    const qr = desktop.page.locator("#join svg");
    await qr.waitFor();
    const request = payloadJson(await decodeQr(qr));
    assert(request.actionId === fixture.interaction && !("callback" in request), "desktop link");
    const prefilled = request.preparedCredentials[0].attributes[0];
    assert(prefilled.name === "Full name" && prefilled.value === fixture.prefilled,
      `the snippet's pre-filled value: ${JSON.stringify(prefilled)}`);
    await desktop.page.locator("#join .psi-status").getByText("Waiting for the app").waitFor();
    await desktop.page.screenshot({ path: join(artifacts, "embed-desktop.png"), fullPage: true });
    await desktop.page.check();
    await desktop.context.close();

    const phone = await watchedPage(browser, { ...PHONE, userAgent: UA.safariIos });
    await phone.page.goto(host);
    const button = phone.page.locator("#join a.psi-start");
    await button.waitFor();
    const phoneRequest = payloadJson(await button.getAttribute("href"));
    assert(phoneRequest.callback === host, `an iPhone returns to the host page: ${phoneRequest.callback}`);
    await phone.page.screenshot({ path: join(artifacts, "embed-phone.png"), fullPage: true });
    await phone.page.check();
    await phone.context.close();
  } finally {
    server.close();
  }
});

// QR codes a tampered link.json could carry. The host page has no CSP, as many do not: the
// embed alone must keep the markup inert.
const TAMPERED = [
  ["an onload handler", `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 9 9" onload="window.__psiInjected='onload'"><rect width="9" height="9" fill="#fff"/></svg>`],
  ["an HTML image in a foreignObject", `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 9 9"><foreignObject width="9" height="9"><img xmlns="http://www.w3.org/1999/xhtml" src="data:," onerror="window.__psiInjected='onerror'" onload="window.__psiInjected='onload'"/></foreignObject></svg>`],
  ["a style sheet", `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 9 9"><style>h1 { display: none }</style><rect width="9" height="9" fill="#fff"/></svg>`],
  ["a link", `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" viewBox="0 0 9 9"><a xlink:href="javascript:window.__psiInjected='link'"><rect width="9" height="9" fill="#fff"/></a></svg>`],
  ["an event attribute on a shape", `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 9 9"><rect width="9" height="9" fill="#fff" onmouseover="window.__psiInjected='hover'"/></svg>`],
];

test("the embed refuses a tampered QR code and nothing in it runs or restyles the page", async (browser) => {
  const server = await hostServer({ csp: false });
  const host = `http://127.0.0.1:${server.address().port}/join.html`;
  try {
    for (const [label, markup] of TAMPERED) {
      const { context, page } = await watchedPage(browser, DESKTOP);
      await page.route("**/link.json?*", async (route) => {
        const response = await route.fetch();
        await route.fulfill({ response, json: { ...(await response.json()), qr_svg: markup } });
      });
      await page.goto(host);
      await page.locator("#join").getByText("cannot be started here").waitFor({ timeout: 5000 })
        .catch(() => { throw new Error(`${label}: drawn`); });
      await page.locator("#join").hover();
      await page.waitForTimeout(200);
      assert((await page.evaluate(() => window.__psiInjected)) === undefined, `${label}: it ran`);
      assert(await page.locator("h1").isVisible(), `${label}: it restyled the page`);
      assert((await page.locator("#join svg").count()) === 0, `${label}: drawn`);
      await page.check();
      await context.close();
    }
  } finally {
    server.close();
  }
});

const browser = await launchChromium();
let passed = 0;
let failed = 0;
try {
  for (const { name, run } of cases) {
    try {
      await run(browser);
      passed += 1;
      console.log(`ok - ${name}`);
    } catch (error) {
      failed += 1;
      console.log(`not ok - ${name}: ${error.message}`);
    }
  }
} finally {
  await browser.close();
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
