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
import AxeBuilder from "@axe-core/playwright";
import { launchChromium } from "./chromium.mjs";

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
/// Set while a walkthrough sends a form the API is meant to refuse.
let expectRefusal = false;

function fail(message) {
  throw new Error(message);
}

/// Records every console error, page error and CSP violation of `page`.
function watch(page) {
  page.on("console", (message) => {
    // A form the API refuses comes back as its page with 409 or 422, which Chromium logs.
    const refusal = /Failed to load resource: the server responded with a status of (409|422)/;
    if (message.type() === "error" && !(expectRefusal && refusal.test(message.text()))) {
      problems.push(`console on ${page.url()}: ${message.text()}`);
    }
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

const browser = await launchChromium();
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

  // Install a public extension, then add it to the interaction with its settings.
  const service = `${base}/dashboard/services/${fixture.did}`;
  await page.goto(`${service}/extensions`);
  await page.getByRole("link", { name: "Install extension", exact: true }).click();
  await page.getByRole("link", { name: "Public Extensions", exact: true }).click();
  await page.getByRole("link", { name: "Install Allow list check", exact: true }).click();
  // Back on a list (its address may carry the notice to show).
  const onList = (url) => url.pathname.endsWith("/extensions") && !url.search.includes("add=");
  await Promise.all([
    page.waitForURL(onList),
    page.getByRole("button", { name: "Install", exact: true }).click(),
  ]);
  await page.goto(`${service}/interactions/${fixture.interaction}/extensions`);
  await page.getByRole("link", { name: "Select", exact: true }).click();
  const chooser = page.getByRole("dialog", { name: "Extension Settings" });
  await Promise.all([
    page.waitForURL(/add=/),
    chooser.getByRole("button", { name: "Add Allow list check", exact: true }).click(),
  ]);
  const settings = page.getByRole("dialog", { name: "Extension Settings" });
  await audit(page, "extension settings pop-up");
  await settings.getByLabel(/^Attribute/).fill("Name");
  await settings.getByLabel(/^Allowed values/).fill("Ada");
  await Promise.all([
    page.waitForURL(onList),
    settings.getByRole("button", { name: "Submit", exact: true }).click(),
  ]);
  if (!(await page.getByText("Allow list check").first().isVisible())) fail("the extension is not listed");
  console.log("DONE extension");

  // Set the web hook: a SHA secret with Request Signature is refused in the pop-up, then saved
  // with Bearer Token.
  await page.goto(`${service}/interactions/${fixture.interaction}`);
  await page.getByRole("link", { name: "Edit web hook", exact: true }).click();
  let hook = page.getByRole("dialog", { name: "Edit web hook" });
  await hook.getByLabel("URL", { exact: true }).fill("https://crm.example.com/psi");
  await hook.getByLabel("Key", { exact: true }).selectOption(fixture.shaKey);
  await hook.getByLabel("Request Signature").check();
  expectRefusal = true;
  await Promise.all([page.waitForLoadState("load"), hook.getByRole("button", { name: "Save", exact: true }).click()]);
  hook = page.getByRole("dialog", { name: "Edit web hook" });
  await hook.getByRole("alert").waitFor();
  expectRefusal = false;
  await audit(page, "web hook refused");
  await hook.getByLabel("URL", { exact: true }).fill("https://crm.example.com/psi");
  await hook.getByLabel("Key", { exact: true }).selectOption(fixture.shaKey);
  await hook.getByLabel("Bearer Token").check();
  await Promise.all([page.waitForURL(/saved=/), hook.getByRole("button", { name: "Save", exact: true }).click()]);
  console.log("DONE webhook");

  // Mark a required credential: open it, untick Pre-fill from QR, save.
  await page.getByRole("link", { name: fixture.requiredSchema, exact: true }).click();
  const required = page.getByRole("dialog", { name: "Edit required credential" });
  await required.getByLabel("Pre-fill from QR").uncheck();
  await Promise.all([page.waitForURL(/saved=/), required.getByRole("button", { name: "Save", exact: true }).click()]);
  console.log("DONE prefill");

  // Copy the Embed snippet from QR codes and deeplinks.
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: base });
  await page.goto(`${service}/interactions`);
  await page.getByRole("link", { name: "QR codes and deeplinks", exact: true }).click();
  await page.getByLabel("Interaction with a QR code").selectOption(fixture.interaction);
  await page.getByRole("button", { name: "Choose", exact: true }).click();
  await page.getByRole("button", { name: "Generate", exact: true }).click();
  await page.getByRole("link", { name: "Embed", exact: true }).click();
  await audit(page, "embed tab");
  await page.getByRole("button", { name: "Copy the embed snippet" }).click();
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  if (!copied.includes(fixture.did) || !copied.includes(fixture.interaction)) {
    fail(`the copied snippet names neither the service nor the interaction: ${copied}`);
  }
  console.log(`DONE embed ${JSON.stringify(copied)}`);

  // Replay the failed delivery from its message's page.
  await page.goto(`${service}/webhooks/messages/${fixture.failedMessage}`);
  await audit(page, "message");
  await Promise.all([page.waitForLoadState("load"), page.getByRole("button", { name: "Replay", exact: true }).click()]);
  console.log("DONE replay");

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

  // As admin: Add person, then give them a role on the service's People page, where they are
  // listed.
  const newcomer = fixture.newPerson.username;
  await page.goto(`${base}/dashboard/services/${fixture.did}/interactions`);
  await page.getByRole("navigation", { name: "Main menu" }).getByRole("link", { name: "Admin", exact: true }).click();
  await page.getByRole("navigation", { name: "Admin" }).getByRole("link", { name: "People", exact: true }).click();
  await page.getByRole("link", { name: "Add person", exact: true }).click();
  const addPerson = page.getByRole("dialog", { name: "Add person" });
  await addPerson.getByLabel("User name", { exact: true }).fill(newcomer);
  await addPerson.getByLabel("Password", { exact: true }).fill(fixture.newPerson.password);
  // The page answering the form lists them (the address stays the list's, so wait for the row).
  await addPerson.getByRole("button", { name: "Add", exact: true }).click();
  await page.getByRole("row", { name: new RegExp(`^${newcomer}\\b`) }).waitFor({ timeout: 10000 })
    .catch(() => fail(`${newcomer} is not among the people`));
  await page.getByRole("navigation", { name: "Main menu" }).getByRole("link", { name: "People", exact: true }).click();
  await page.getByRole("link", { name: "Give a role", exact: true }).click();
  const give = page.getByRole("dialog", { name: "Give a role" });
  await give.getByLabel("User name", { exact: true }).fill(newcomer);
  await give.getByLabel("Role", { exact: true }).selectOption("editor");
  await give.getByRole("button", { name: "Give role", exact: true }).click();
  const listed = page.getByRole("row", { name: new RegExp(`^${newcomer}\\b`) });
  await listed.waitFor({ timeout: 10000 }).catch(() => fail(`${newcomer} is not on the People page`));
  if ((await listed.getByLabel(`Role of ${newcomer}`).inputValue()) !== "editor") {
    fail(`${newcomer} is not listed as an editor on the People page`);
  }
  console.log("DONE people");

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
