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

  // ------------------------------------------------------------------ local times
  // The server writes times in UTC (<time datetime="..." data-local>2026-11-29 14:03:11 UTC</time>);
  // the browser shows them in its own zone, with the zone's name, and says which zone that is.
  var zone = (window.Intl && Intl.DateTimeFormat().resolvedOptions().timeZone) || "UTC";

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function zoneName(date) {
    try {
      var parts = new Intl.DateTimeFormat("en-GB", { timeZoneName: "short" }).formatToParts(date);
      for (var i = 0; i < parts.length; i++) if (parts[i].type === "timeZoneName") return parts[i].value;
    } catch (error) { /* old browser: no zone name */ }
    return zone;
  }

  function localText(date, dateOnly) {
    var day = date.getFullYear() + "-" + pad(date.getMonth() + 1) + "-" + pad(date.getDate());
    if (dateOnly) return day;
    return day + " " + pad(date.getHours()) + ":" + pad(date.getMinutes()) + ":" + pad(date.getSeconds()) +
      " " + zoneName(date);
  }
  window.cacheadminLocalTime = localText;

  function initTimes(root) {
    if (!root || !root.querySelectorAll) return;
    Array.prototype.forEach.call(root.querySelectorAll("time[data-local]"), function (el) {
      var date = new Date(el.getAttribute("datetime"));
      if (isNaN(date.getTime())) return;
      el.textContent = localText(date, el.hasAttribute("data-date-only"));
      el.title = date.toISOString().replace(".000Z", "Z") + " (UTC) · shown in " + zone;
    });
    // SVG text and titles (the usage chart): the moment in the browser's zone, as a time of day,
    // a day, or in full, with what follows it kept.
    Array.prototype.forEach.call(root.querySelectorAll("[data-local-time]"), function (el) {
      var date = new Date(el.getAttribute("data-local-time"));
      if (isNaN(date.getTime())) return;
      var format = el.getAttribute("data-local-format");
      var text;
      if (format === "time") text = pad(date.getHours()) + ":" + pad(date.getMinutes());
      else if (format === "day") text = date.toLocaleDateString("en-US", { month: "short", day: "2-digit" });
      else text = localText(date, false);
      el.textContent = text + (el.getAttribute("data-local-suffix") || "");
    });
    Array.prototype.forEach.call(root.querySelectorAll("[data-zone-label]"), function (el) {
      el.textContent = "times in " + zone + " (your browser's zone)";
    });
    Array.prototype.forEach.call(root.querySelectorAll("input[data-browser-zone]"), function (el) {
      el.value = zone;
    });
  }

  // ------------------------------------------------------------------ TTLs counting down
  // <time class="ttl" data-ttl-ms="..."> holds the time a key had left when the page was made; the
  // countdown runs on the browser's monotonic clock, so a wrong computer clock does not matter.
  function ttlHuman(seconds) {
    var total = Math.max(Math.floor(seconds), 0);
    if (total < 60) return total + " s";
    if (total < 3600) return Math.floor(total / 60) + " min";
    if (total < 86400) {
      var h = Math.floor(total / 3600), m = Math.floor((total % 3600) / 60);
      return m ? h + " h " + m + " min" : h + " h";
    }
    var d = Math.floor(total / 86400), hours = Math.floor((total % 86400) / 3600);
    return hours ? d + " d " + hours + " h" : d + " d";
  }

  var countdowns = [];

  function initCountdowns(root) {
    if (!root || !root.querySelectorAll) return;
    var now = performance.now();
    Array.prototype.forEach.call(root.querySelectorAll("time.ttl[data-ttl-ms]"), function (el) {
      if (el._deadline) return;
      el._deadline = now + parseInt(el.getAttribute("data-ttl-ms"), 10);
      var expires = new Date(Date.now() + parseInt(el.getAttribute("data-ttl-ms"), 10));
      el.title = "expires at " + localText(expires, false);
      countdowns.push(el);
    });
    tick();
  }

  function tick() {
    var now = performance.now();
    countdowns = countdowns.filter(function (el) { return document.body.contains(el); });
    countdowns.forEach(function (el) {
      var left = (el._deadline - now) / 1000;
      if (left <= 0) {
        el.textContent = "expired";
        var row = el.closest("tr");
        if (row) row.classList.add("is-expired");
      } else {
        el.textContent = ttlHuman(left);
      }
    });
  }
  setInterval(tick, 1000);

  // ------------------------------------------------------------------ key browser state
  // The prefix is one state: the URL says it, and the search box and the tree follow it, whatever
  // changed it (typing, the tree, "show all", the back button).
  function urlPrefix() {
    return new URLSearchParams(window.location.search).get("prefix") || "";
  }

  function syncBrowserState() {
    var box = document.querySelector("[data-prefix-box]");
    if (!box) return;
    var prefix = urlPrefix();
    // While someone types in the box, the box leads and the URL follows it.
    if (document.activeElement !== box && box.value.trim() !== prefix) box.value = prefix;
    var sort = document.getElementById("sort");
    if (sort) sort.checked = new URLSearchParams(window.location.search).get("sort") === "natural";
    Array.prototype.forEach.call(document.querySelectorAll("#tree-root [data-prefix]"), function (link) {
      if (link.getAttribute("data-prefix") === prefix) link.setAttribute("aria-current", "true");
      else link.removeAttribute("aria-current");
    });
  }

  document.addEventListener("htmx:pushedIntoHistory", syncBrowserState);
  document.addEventListener("htmx:historyRestore", syncBrowserState);
  window.addEventListener("popstate", function () { setTimeout(syncBrowserState, 0); });

  // After a row is deleted from the list, keyboard focus goes to the next row (or the count).
  document.addEventListener("htmx:afterSettle", function (event) {
    var target = event.detail.target;
    if (!target || target.id !== "key-results") return;
    var head = target.querySelector("[data-focus-key]");
    if (!head) return;
    var key = head.getAttribute("data-focus-key");
    var link = key ? target.querySelector('tr[data-key="' + CSS.escape(key) + '"] .key-name') : null;
    (link || document.getElementById("results-status")).focus();
  });

  // On a phone the tree starts closed, below the search; on a desktop it stays open beside it.
  function collapseOnPhone(root) {
    if (!root || !root.querySelectorAll || !window.matchMedia("(max-width: 800px)").matches) return;
    Array.prototype.forEach.call(root.querySelectorAll("details[data-collapse-on-phone]"), function (el) {
      el.open = false;
    });
  }

  // ------------------------------------------------------------------ forms
  // A dry run's report (and its "apply" button) describes the form as it was: editing the form
  // removes it, so no button can apply an old dry run.
  document.addEventListener("input", function (event) {
    var form = event.target.form;
    var selector = form && form.getAttribute("data-clears");
    if (selector) {
      var step = document.querySelector(selector);
      if (step && step.querySelector(".report")) step.innerHTML = "";
    }
    // Typing a new TTL on the key page chooses "Set a new TTL".
    if (event.target.closest && event.target.closest("[data-ttl-field]")) {
      var set = form && form.querySelector('[data-ttl-mode][value="set"]');
      if (set) set.checked = true;
    }
    // Quota editor: a key limit below the live count is said at once.
    if (event.target.hasAttribute && event.target.hasAttribute("data-live-keys")) {
      var warning = form && form.querySelector("[data-below-live-warning]");
      var value = parseInt(event.target.value, 10);
      if (warning) warning.hidden = !(value < parseInt(event.target.getAttribute("data-live-keys"), 10));
    }
  });
  document.addEventListener("change", function (event) {
    var form = event.target.form;
    var selector = form && form.getAttribute("data-clears");
    if (selector && (event.target.type === "radio" || event.target.type === "checkbox")) {
      var step = document.querySelector(selector);
      if (step && step.querySelector(".report")) step.innerHTML = "";
    }
  });

  function init(root) {
    initTimes(root);
    initCountdowns(root);
  }
  document.addEventListener("DOMContentLoaded", function () {
    init(document);
    collapseOnPhone(document);
    syncBrowserState();
  });
  document.addEventListener("htmx:load", function (event) { init(event.detail.elt); });
})();
