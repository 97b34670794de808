// The dashboard in a real browser: Playwright driving Debian's Chromium signs in with the keyboard
// only, opens every screen at desktop and phone width, runs axe-core on each (no serious or
// critical violation), and follows the platform guide's walkthroughs by their visible labels.
//
//   PSI_DASHBOARD_FIXTURE='{...}' node tests/browser/dashboard.mjs <base-url>
//
// The fixture (service DID, the demo interaction, the people and their passwords, the screens)
// comes from crates/psi-cli/tests/it/dashboard.rs, which starts the server, seeds it, runs this
// script and checks each walkthrough's effect through the management API when the script prints
// `DONE <walkthrough>`. Every console error, page error and CSP violation fails the run.
// Screenshots of every screen go to test-artifacts/dashboard/ at the repository root.
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import AxeBuilder from "@axe-core/playwright";

const base = process.argv[2];
const fixture = JSON.parse(process.env.PSI_DASHBOARD_FIXTURE || "{}");
if (!base || !fixture.did) {
  console.error("usage: PSI_DASHBOARD_FIXTURE='{...}' node dashboard.mjs <base-url>");
  process.exit(2);
}
const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const artifacts = join(root, "test-artifacts", "dashboard");
mkdirSync(artifacts, { recursive: true });

const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 390, height: 844 };
const problems = [];

function fail(message) {
  throw new Error(message);
}

/// Records every console error, page error and CSP violation of `page`.
function watch(page) {
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`console on ${page.url()}: ${message.text()}`);
  });
  page.on("pageerror", (error) => problems.push(`page error on ${page.url()}: ${error.message}`));
}

/// Signs in with the keyboard alone: Tab to each field from the top of the page, Enter to send.
async function signInWithKeyboard(page, person) {
  await page.goto(`${base}/dashboard/`);
  if (!page.url().endsWith("/dashboard/sign-in")) fail(`not asked to sign in: ${page.url()}`);
  const focusOn = async (id) => {
    for (let i = 0; i < 10; i++) {
      await page.keyboard.press("Tab");
      if (await page.evaluate(() => document.activeElement && document.activeElement.id) === id) return;
    }
    fail(`Tab never reaches #${id}`);
  };
  await focusOn("username");
  await page.keyboard.type(person.username);
  await page.keyboard.press("Tab");
  await page.keyboard.type(person.password);
  await page.keyboard.press("Enter");
  try {
    await page.waitForURL(/\/interactions$/, { timeout: 10000 });
  } catch {
    const said = await page.locator("main").innerText().catch(() => "");
    fail(`signing in as ${person.username} ended on ${page.url()}: ${said}`);
  }
}

/// axe-core on the page as it is: serious and critical violations fail.
async function audit(page, name) {
  const result = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21aa"]).analyze();
  const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  if (bad.length) {
    const detail = bad
      .map((v) => `${v.id} (${v.impact}): ${v.help}; ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`)
      .join("\n  ");
    fail(`axe on ${name}:\n  ${detail}`);
  }
}

/// Opens a screen at desktop and phone width: 200, axe clean, no sideways scrolling on a phone,
/// screenshots.
async function screen(page, name, path) {
  await page.setViewportSize(DESKTOP);
  const response = await page.goto(`${base}${path}`);
  if (!response || response.status() !== 200) fail(`${name} (${path}) answered ${response && response.status()}`);
  await audit(page, name);
  await page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
  await page.setViewportSize(PHONE);
  await page.reload();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  if (overflow > 1) fail(`${name} scrolls sideways by ${overflow}px on a phone`);
  await audit(page, `${name} on a phone`);
  await page.screenshot({ path: join(artifacts, `${name}-phone.png`), fullPage: true });
  await page.setViewportSize(DESKTOP);
}

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
});
let status = 0;
try {
  const context = await browser.newContext({ viewport: DESKTOP });
  const page = await context.newPage();
  watch(page);
  await signInWithKeyboard(page, fixture.admin);
  console.log("DONE sign-in");
  for (const [name, path] of fixture.screens) {
    await screen(page, name, path);
  }
  console.log("DONE screens");

  // Pause the demo interaction from its row, by the button's label.
  const row = page.getByRole("row", { name: new RegExp(fixture.interactionName) });
  await page.goto(`${base}/dashboard/services/${fixture.did}/interactions`);
  await Promise.all([page.waitForURL(/\/interactions$/), row.getByRole("button", { name: /^Pause/ }).click()]);
  if (!(await row.getByText("Paused").isVisible())) fail("the row does not say Paused");
  console.log("DONE pause");

  // A viewer sees no button to change anything.
  const viewerContext = await browser.newContext({ viewport: DESKTOP });
  const viewerPage = await viewerContext.newPage();
  watch(viewerPage);
  await signInWithKeyboard(viewerPage, fixture.viewer);
  if (await viewerPage.getByRole("button", { name: /^(Pause|Resume)/ }).count()) {
    fail("a viewer is offered Pause or Resume");
  }
  await viewerContext.close();

  // Sign out, by its label.
  await Promise.all([page.waitForURL(/sign-in$/), page.getByRole("button", { name: "Sign out" }).click()]);
  console.log("DONE sign-out");
  if (problems.length) fail(`console, page or CSP errors:\n  ${problems.join("\n  ")}`);
  console.log("PASSED");
} catch (error) {
  console.log(`ERROR ${error.message}`);
  status = 1;
} finally {
  await browser.close();
}
process.exit(status);
