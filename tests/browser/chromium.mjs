// Debian's Chromium (`PSI_CHROMIUM`, by default /usr/bin/chromium) started headless by Playwright
// with psi's flags, shared by the browser scripts. Playwright starts it with a fresh temporary
// --user-data-dir of its own and removes it after.

import { chromium } from "playwright-core";

export function launchChromium() {
  return chromium.launch({
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
}
