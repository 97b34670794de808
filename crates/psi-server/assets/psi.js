// psi embed: renders a start button (phones) or a QR code (desktops) for an interaction, with its
// live status. No dependencies, no build step. Use:
//
//   <div data-psi-service="<service DID>" data-psi-interaction="<interaction id>"></div>
//   <script src="https://<psi server>/embed/psi.js" async></script>
//
// with optional data-psi-instance, data-psi-prefill (a JSON array of "CREDENTIAL_ID:NAME=VALUE"),
// data-psi-callback, data-psi-redirect and data-psi-server (the link endpoint writes this
// snippet for each link: its `embed`),
//
// or call Psi.mount(element, {serviceDid, interactionId, instance?, prefill?, callback?,
// redirect?, server?, onStatus?}). Which callback the link carries is decided by the server from
// the browser's User-Agent (the same rules as the start page): the script only asks for
// /s/<did>/<id>/link.json and draws what it gets. Inserted text goes in as text, never as HTML.
(function (global) {
  "use strict";

  var SVG_NS = "http://www.w3.org/2000/svg";
  var current = document.currentScript;
  var defaultServer = current && current.src ? new URL(current.src).origin : "";

  var TEXT = {
    waiting_for_holder: "Waiting for the app…",
    started: "The app has the request: confirm in the app.",
    waiting: "Done in the app. The service will send your credentials later.",
    completed: "Done.",
    failed: "It did not work."
  };

  function el(name, className, text) {
    var node = document.createElement(name);
    if (className) node.className = className;
    if (text) node.textContent = text;
    return node;
  }

  // The server's QR code is an <svg> holding a <rect> (the light background) and a <path> (the
  // dark modules). Nothing of the parsed markup is inserted: a new <svg> is built from those
  // elements and these attributes alone, each value checked, and anything else in the answer
  // rejects it. So a tampered answer can neither run script nor restyle the host page.
  var NUMBER = /^\d{1,4}(\.\d{1,4})?$/;
  var COLOUR = /^#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?$/;
  var QR_ATTRIBUTES = {
    svg: { viewBox: /^\d{1,4}( \d{1,4}){3}$/, width: NUMBER, height: NUMBER, "shape-rendering": /^crispEdges$/ },
    rect: { x: NUMBER, y: NUMBER, width: NUMBER, height: NUMBER, fill: COLOUR },
    path: { d: /^[MHVZmhvz\d .-]*$/, fill: COLOUR }
  };
  // Present on the server's code, and set here by the script itself where they matter.
  var IGNORED_ATTRIBUTES = { xmlns: true, "class": true, role: true, "aria-label": true };

  function rejectQr() {
    throw new Error("psi: unexpected QR code");
  }

  function copyQrElement(node, allowed) {
    if (node.namespaceURI !== SVG_NS) rejectQr();
    var copy = document.createElementNS(SVG_NS, node.localName);
    Array.prototype.forEach.call(node.attributes, function (attribute) {
      if (IGNORED_ATTRIBUTES[attribute.name] && node.localName === "svg") return;
      var check = Object.prototype.hasOwnProperty.call(allowed, attribute.name) && allowed[attribute.name];
      if (!check || !check.test(attribute.value)) rejectQr();
      copy.setAttribute(attribute.name, attribute.value);
    });
    return copy;
  }

  function qrElement(markup) {
    var doc = new DOMParser().parseFromString(String(markup), "image/svg+xml");
    var root = doc.documentElement;
    if (!root || root.localName !== "svg" || doc.getElementsByTagName("parsererror").length) rejectQr();
    var svg = copyQrElement(root, QR_ATTRIBUTES.svg);
    Array.prototype.forEach.call(root.childNodes, function (node) {
      var allowed = node.nodeType === 1 && node.localName !== "svg" &&
        Object.prototype.hasOwnProperty.call(QR_ATTRIBUTES, node.localName) && QR_ATTRIBUTES[node.localName];
      if (!allowed || node.childNodes.length) rejectQr();
      svg.appendChild(copyQrElement(node, allowed));
    });
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", "QR code of the link");
    svg.style.width = "100%";
    svg.style.maxWidth = "260px";
    svg.style.height = "auto";
    svg.style.display = "block";
    svg.style.margin = "0 auto";
    return svg;
  }

  function prefillText(entry) {
    if (typeof entry === "string") return entry;
    return entry.credentialId + ":" + entry.name + "=" + entry.value;
  }

  function linkUrl(options) {
    var server = (options.server || defaultServer).replace(/\/+$/, "");
    var url = new URL(server + "/s/" + encodeURIComponent(options.serviceDid) + "/" +
      encodeURIComponent(options.interactionId) + "/link.json");
    if (options.instance) url.searchParams.set("instance", options.instance);
    (options.prefill || []).forEach(function (entry) {
      url.searchParams.append("prefill", prefillText(entry));
    });
    if (options.callback) url.searchParams.set("callback", options.callback);
    if (options.redirect) url.searchParams.set("redirect", options.redirect);
    // An iPhone's browser returns to this tab after the app, when the callback is its URL.
    url.searchParams.set("page_url", global.location.href);
    return url;
  }

  function showStatus(node, status) {
    node.setAttribute("data-state", status.state);
    node.textContent = TEXT[status.state] || status.state;
    if (status.message) node.appendChild(el("span", "psi-detail", " " + status.message));
  }

  function watch(offer, node, options) {
    if (!global.EventSource) return;
    var source = new EventSource(offer.status_url);
    source.addEventListener("status", function (event) {
      var status;
      try { status = JSON.parse(event.data); } catch (e) { return; }
      showStatus(node, status);
      if (typeof options.onStatus === "function") options.onStatus(status);
      if (status.state === "completed" || status.state === "failed") source.close();
      if (status.state === "completed" && options.redirect) {
        global.setTimeout(function () { global.location.assign(options.redirect); }, 1500);
      }
    });
  }

  function render(element, offer, options) {
    var box = el("div", "psi-embed");
    box.style.fontFamily = "system-ui, sans-serif";
    box.style.textAlign = "center";
    if (offer.platform === "desktop") {
      var figure = el("figure", "psi-qr");
      figure.style.margin = "0 auto";
      figure.appendChild(qrElement(offer.qr_svg));
      figure.appendChild(el("figcaption", null, options.scanText || "Scan this code with the app."));
      box.appendChild(figure);
    } else {
      var button = el("a", "psi-start", options.buttonText || "Open in the app");
      button.href = offer.link;
      button.style.display = "inline-block";
      button.style.padding = "0.8em 1.2em";
      button.style.borderRadius = "8px";
      button.style.background = "#2456d6";
      button.style.color = "#fff";
      button.style.textDecoration = "none";
      box.appendChild(button);
    }
    var status = el("p", "psi-status");
    status.setAttribute("role", "status");
    showStatus(status, { state: "waiting_for_holder" });
    box.appendChild(status);
    element.textContent = "";
    element.appendChild(box);
    watch(offer, status, options);
    return offer;
  }

  function mount(element, options) {
    if (typeof element === "string") element = document.querySelector(element);
    options = options || {};
    if (!element || !options.serviceDid || !options.interactionId) {
      return Promise.reject(new Error("psi: Psi.mount(element, {serviceDid, interactionId})"));
    }
    element.textContent = "…";
    return fetch(linkUrl(options), { credentials: "omit" })
      .then(function (response) {
        return response.json().then(function (body) {
          if (!response.ok) throw new Error((body.error && body.error.message) || response.statusText);
          return body;
        });
      })
      .then(function (offer) { return render(element, offer, options); })
      .catch(function (error) {
        element.textContent = options.errorText || "This interaction cannot be started here right now.";
        if (global.console) global.console.warn("psi:", error.message);
        throw error;
      });
  }

  function mountAll() {
    var nodes = document.querySelectorAll("[data-psi-interaction]");
    Array.prototype.forEach.call(nodes, function (node) {
      var data = node.dataset;
      var prefill;
      try {
        prefill = data.psiPrefill ? JSON.parse(data.psiPrefill) : undefined;
      } catch (error) {
        node.textContent = "This interaction cannot be started here right now.";
        if (global.console) global.console.warn("psi: data-psi-prefill is not a JSON array");
        return;
      }
      mount(node, {
        serviceDid: data.psiService,
        interactionId: data.psiInteraction,
        instance: data.psiInstance,
        prefill: prefill,
        callback: data.psiCallback,
        redirect: data.psiRedirect,
        server: data.psiServer
      }).catch(function () {});
    });
  }

  global.Psi = { mount: mount };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", mountAll);
  } else {
    mountAll();
  }
})(window);
