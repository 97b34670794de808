// The dashboard's script: pop-ups, copy buttons and tabs. Pages work without it: a pop-up is a
// page section the server renders open when the address asks for it (`?edit=...`), and this
// script only shows the same section as a modal dialog without a page load.
"use strict";

(function () {
  // <a data-dialog="ID" href="?edit=...">: opens <dialog id="ID"> as a modal.
  document.querySelectorAll("[data-dialog]").forEach(function (opener) {
    var dialog = document.getElementById(opener.getAttribute("data-dialog"));
    if (!dialog || typeof dialog.showModal !== "function") return;
    opener.addEventListener("click", function (event) {
      event.preventDefault();
      if (dialog.open) dialog.close();
      dialog.showModal();
      var first = dialog.querySelector("input:not([type=hidden]), select, textarea, button");
      if (first) first.focus();
    });
  });
  // A dialog the server rendered open (no script, or an error to show) becomes modal too.
  document.querySelectorAll("dialog[open]").forEach(function (dialog) {
    if (typeof dialog.showModal !== "function") return;
    dialog.close();
    dialog.showModal();
  });
  // <button data-close>: closes its dialog (the server-side fallback is a link back).
  document.querySelectorAll("dialog [data-close]").forEach(function (closer) {
    closer.addEventListener("click", function (event) {
      event.preventDefault();
      closer.closest("dialog").close();
    });
  });
  // <button data-copy="ID">: copies the value (or text) of element ID.
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    var target = document.getElementById(button.getAttribute("data-copy"));
    if (!target) return;
    var label = button.textContent;
    button.addEventListener("click", function () {
      var text = "value" in target ? target.value : target.textContent;
      var done = function () {
        button.textContent = "Copied";
        setTimeout(function () { button.textContent = label; }, 2000);
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(done, function () {});
      } else if ("select" in target) {
        target.select();
        document.execCommand("copy");
        done();
      }
    });
  });
})();

// Events: <div data-live="URL"> is a list that refreshes itself when the server-sent events at
// URL say it changed (a `changed` event); the page reads its own address again and swaps the
// list in. Without the script, the page's "Newer events" link does the same.
(function () {
  var live = document.querySelector("[data-live]");
  if (!live || typeof EventSource !== "function" || typeof fetch !== "function") return;
  var listen = function () {
    var source = new EventSource(live.getAttribute("data-live"));
    source.addEventListener("changed", function () {
      source.close();
      fetch(window.location.href, { credentials: "same-origin" })
        .then(function (response) {
          return response.ok ? response.text() : Promise.reject(response.status);
        })
        .then(function (text) {
          var fresh = new DOMParser().parseFromString(text, "text/html").querySelector("[data-live]");
          if (fresh) {
            live.replaceWith(fresh);
            live = fresh;
            listen();
          }
        }, function () {});
    });
  };
  listen();
})();
