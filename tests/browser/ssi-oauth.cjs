// The unchanged `ssi-auth-lib` signing in against a running psi, in Node with jsdom (run by
// crates/psi-cli/tests/it/ssi_oauth.rs; docs/ssi-oauth-client.md has the why of each step).
// A phone's user agent, so the library builds the link itself and opens it: the link is printed
// as `LINK <link>` for the test to run with `psi wallet run`; the token answer as `TOKEN <json>`,
// an error as `ERROR <json>` (exit code 1).
//
//   node tests/browser/ssi-oauth.cjs BASE CLIENT_ID CRED_DEF SERVICE_DID INTERACTION INSTANCE LINK_PREFIX
const { JSDOM, ResourceLoader } = require("jsdom");

const [base, clientId, credDef, serviceDid, interactionId, instanceId, linkPrefix] =
  process.argv.slice(2);
const iPhone =
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 " +
  "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1";
const dom = new JSDOM('<div id="signin"></div>', {
  url: "https://shop.example/login",
  resources: new ResourceLoader({ userAgent: iPhone }),
});
// The library reads these globals, so they are set before it is loaded.
globalThis.window = dom.window;
globalThis.document = dom.window.document;
Object.defineProperty(globalThis, "navigator", { value: dom.window.navigator, configurable: true });
const { PSWebLink } = require("ssi-auth-lib");

const linker = new PSWebLink();
dom.window.open = (link) => console.log(`LINK ${link}`);
// The platform's style: a base ending in `/`, so the library requests `/oauth2//token`.
const env = {
  authServiceUrl: `${base}/oauth2/`,
  SSIAuthenticationCredDefId: credDef,
  nativeURIPrefix: linkPrefix,
  containerURIPrefix: `${base}/service-dashboard-backend/`,
};
const div = document.getElementById("signin");
// The button appears once the user code is there; a person taps it.
const observer = new dom.window.MutationObserver(() => {
  const button = div.querySelector("button");
  if (button && !button.hasAttribute("style")) {
    observer.disconnect();
    button.click();
  }
});
observer.observe(div, { subtree: true, childList: true, attributes: true });
linker
  .startWithSSIOAuth(div, { env, clientId, serviceDid, interactionId, instanceId, log: () => {} })
  .then((token) => {
    console.log(`TOKEN ${JSON.stringify(token)}`);
    linker.stop();
  })
  .catch((err) => {
    console.log(`ERROR ${JSON.stringify(err.error ? err : String(err))}`);
    process.exitCode = 1;
  });
