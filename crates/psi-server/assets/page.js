// The script of psi's pages: the copy button and the start page's live status.
// Everything it needs is in data-* attributes, so the pages need no inline script.
"use strict";

(function () {
  function setupCopy(button) {
    var target = document.getElementById(button.getAttribute("data-copy"));
    if (!target) return;
    button.addEventListener("click", function () {
      var text = target.value;
      var done = function () {
        button.textContent = "Copied";
        setTimeout(function () { button.textContent = "Copy"; }, 2000);
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(done, function () { target.select(); });
      } else {
        target.select();
        document.execCommand("copy");
        done();
      }
    });
  }

  var TEXT = {
    waiting_for_holder: "Waiting for the app…",
    started: "The app has the request: confirm in the app.",
    waiting: "Done in the app. The service will send your credentials later.",
    completed: "Done. You can close this page.",
    failed: "It did not work.",
    expired: "This page has expired: reload it to start again."
  };

  function show(status, state, message) {
    status.setAttribute("data-state", state);
    status.textContent = TEXT[state] || state;
    if (message) {
      var detail = document.createElement("span");
      detail.className = "detail";
      detail.textContent = message;
      status.appendChild(detail);
    }
  }

  function setupStatus(status) {
    var url = status.getAttribute("data-status-url");
    var redirect = status.getAttribute("data-redirect");
    if (!url || !window.EventSource) return;
    var source = new EventSource(url);
    source.addEventListener("status", function (event) {
      var data;
      try { data = JSON.parse(event.data); } catch (e) { return; }
      show(status, data.state, data.message);
      if (data.state === "completed" || data.state === "failed" || data.state === "expired") {
        source.close();
      }
      if (data.state === "completed" && redirect) {
        setTimeout(function () { window.location.assign(redirect); }, 1500);
      }
    });
  }

  document.querySelectorAll("[data-copy]").forEach(setupCopy);
  document.querySelectorAll("[data-status-url]").forEach(setupStatus);
})();
