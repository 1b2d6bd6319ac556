// The script console's editor: Tab / Shift+Tab indent, Ctrl/Cmd+Enter runs, Escape then Tab
// leaves the editor (so keyboard users are never trapped). htmx does the running and swapping.
// Listeners sit on the document, so editors swapped in by htmx (examples, history) work too.
(function () {
  "use strict";

  var INDENT = "  ";
  var tabMovesFocus = false; // set by Escape: the next Tab leaves the editor

  function isEditor(element) {
    return element && element.matches && element.matches("[data-console-editor]");
  }

  function lineStart(text, index) {
    return text.lastIndexOf("\n", index - 1) + 1;
  }

  // Insert or remove indentation. Prefer execCommand so the browser's undo history keeps the
  // change; fall back to setRangeText where it is not supported.
  function replaceRange(editor, start, end, text) {
    editor.focus();
    editor.setSelectionRange(start, end);
    if (!document.execCommand || !document.execCommand("insertText", false, text)) {
      editor.setRangeText(text, start, end, "end");
    }
  }

  function indent(editor, outdent) {
    var value = editor.value;
    var start = editor.selectionStart;
    var end = editor.selectionEnd;
    if (!outdent && start === end) {
      replaceRange(editor, start, end, INDENT);
      return;
    }
    var from = lineStart(value, start);
    var block = value.slice(from, end);
    var lines = block.split("\n");
    var changed = lines.map(function (line) {
      if (!outdent) return INDENT + line;
      return line.indexOf(INDENT) === 0 ? line.slice(INDENT.length) : line.replace(/^ /, "");
    }).join("\n");
    replaceRange(editor, from, end, changed);
    editor.setSelectionRange(from, from + changed.length);
  }

  document.addEventListener("keydown", function (event) {
    var editor = event.target;
    if (!isEditor(editor)) return;
    if (event.key === "Escape") {
      tabMovesFocus = true;
      return;
    }
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      var form = editor.form;
      if (form && form.querySelector("button[type=submit]")) {
        if (form.requestSubmit) form.requestSubmit(); else form.submit();
      }
      return;
    }
    if (event.key === "Tab" && !event.ctrlKey && !event.altKey && !event.metaKey) {
      if (tabMovesFocus || editor.readOnly) {
        tabMovesFocus = false;
        return; // default: focus moves on
      }
      event.preventDefault();
      indent(editor, event.shiftKey);
      return;
    }
    tabMovesFocus = false;
  });

  // After a run, put the caret on the error's line so it is one keystroke away.
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    if (!target || target.id !== "result") return;
    var marked = target.querySelector(".error-line");
    var editor = document.querySelector("[data-console-editor]");
    if (!marked || !editor) return;
    var line = parseInt(marked.getAttribute("value"), 10);
    if (!(line > 0)) return;
    var lines = editor.value.split("\n");
    var start = 0;
    for (var i = 0; i < line - 1 && i < lines.length; i++) start += lines[i].length + 1;
    var end = start + (lines[line - 1] || "").length;
    editor.setSelectionRange(start, end);
  });
})();
