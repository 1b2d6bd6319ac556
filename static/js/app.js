// cacheadmin: the little JavaScript the pages need; htmx does the rest.
// - toasts for the server's "toast" events (HX-Trigger: {"toast": {"message": ..., "level": ...}})
//   and for htmx requests that fail without one;
// - live checks of JSON value editors (parse errors, UTF-8 size against the brand's limit).
// Confirmations are htmx's own hx-confirm.
(function () {
  "use strict";

  var LEVELS = { ok: true, info: true, warn: true, error: true };

  function showToast(message, level) {
    var box = document.getElementById("toasts");
    if (!box || !message) return;
    level = LEVELS[level] ? level : "info";
    var toast = document.createElement("div");
    toast.className = "toast toast-" + level;
    toast.setAttribute("role", level === "error" ? "alert" : "status");
    var text = document.createElement("span");
    text.textContent = String(message); // never HTML: messages can contain key names
    var close = document.createElement("button");
    close.type = "button";
    close.className = "toast-close";
    close.setAttribute("aria-label", "Dismiss");
    close.textContent = "×";
    toast.appendChild(text);
    toast.appendChild(close);
    box.appendChild(toast);
    var remove = function () { if (toast.parentNode) toast.parentNode.removeChild(toast); };
    close.addEventListener("click", remove);
    setTimeout(remove, level === "error" ? 9000 : 4500);
  }
  window.cacheadminToast = showToast;

  document.addEventListener("toast", function (event) {
    var detail = event.detail || {};
    showToast(detail.message || detail.value, detail.level);
  });

  // htmx does not swap error responses: say something rather than nothing. A response that
  // carries its own HX-Trigger (the 503 page does) already showed its toast.
  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    if (xhr.getResponseHeader("HX-Trigger")) return;
    var messages = {
      403: "Not allowed: you may have read-only access here, or the page is stale (reload it).",
      404: "Not found: it may have been deleted or expired.",
      413: "Too large to send."
    };
    showToast(messages[xhr.status] || "The request failed (HTTP " + xhr.status + ").", "error");
  });
  document.addEventListener("htmx:sendError", function () {
    showToast("The server cannot be reached. Check your connection and try again.", "error");
  });

  // ------------------------------------------------------------------ JSON editors
  var encoder = typeof TextEncoder !== "undefined" ? new TextEncoder() : null;

  function utf8Length(text) {
    return encoder ? encoder.encode(text).length : unescape(encodeURIComponent(text)).length;
  }

  // The server's error list for the editor's field, when the page came back with one.
  function serverErrors(textarea) {
    var field = textarea.closest && textarea.closest(".field");
    return field ? field.querySelector(".errorlist") : null;
  }

  function checkEditor(textarea, edited) {
    var form = textarea.form;
    var status = form && form.querySelector("[data-json-status]");
    var max = parseInt(textarea.getAttribute("data-max-bytes"), 10);
    var text = textarea.value;
    var ok = true;
    var message;
    if (!text.trim()) {
      ok = false;
      message = 'Enter a JSON value, for example 42, "text", [1, 2] or {"a": 1}.';
    } else {
      try {
        // The server stores the compact form, so that is what counts against the limit (the
        // server checks again; number formatting can differ by a byte or two).
        var size = utf8Length(JSON.stringify(JSON.parse(text)));
        ok = !(size > max);
        message = "Valid JSON · " + size + " / " + max + " bytes" + (ok ? "" : ": too large");
      } catch (error) {
        ok = false;
        message = "JSON error: " + error.message;
      }
    }
    textarea.setAttribute("aria-invalid", ok ? "false" : "true");
    var stale = serverErrors(textarea);
    if (stale && edited) {
      stale.hidden = true;  // it described the text before this edit; the live status takes over
    } else if (stale && !stale.hidden && !ok) {
      message = "";  // the server already explains this error; saying it twice is noise
    }
    if (status) {
      status.textContent = message;
      status.classList.toggle("is-error", !ok);
      status.classList.toggle("is-ok", ok);
    }
  }

  function initEditors(root) {
    if (!root || !root.querySelectorAll) return;
    if (root.matches && root.matches("[data-json-editor]")) checkEditor(root);
    Array.prototype.forEach.call(root.querySelectorAll("[data-json-editor]"), function (textarea) {
      checkEditor(textarea, false);
    });
  }

  document.addEventListener("input", function (event) {
    var target = event.target;
    if (target.matches && target.matches("[data-json-editor]")) checkEditor(target, true);
  });
  // Ctrl/Cmd+Enter saves from inside the editor.
  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && target.matches &&
        target.matches("[data-json-editor]") && target.form) {
      event.preventDefault();
      if (target.form.requestSubmit) target.form.requestSubmit(); else target.form.submit();
    }
  });
  document.addEventListener("DOMContentLoaded", function () { initEditors(document); });
  document.addEventListener("htmx:load", function (event) { initEditors(event.detail.elt); });
})();
