// Rule-set editor: a link "line L, column C: …" in the error summary puts the caret at that place
// in the textarea and scrolls it into view. Without this script the link still moves focus to
// the textarea, and the page lists each problem beside its line.
(function () {
  "use strict";
  var source = document.getElementById("source");
  if (!source || typeof source.setSelectionRange !== "function") {
    return;
  }
  function offsetOf(text, line, column) {
    var off = 0;
    for (var l = 1; l < line; l++) {
      var next = text.indexOf("\n", off);
      if (next < 0) {
        return text.length;
      }
      off = next + 1;
    }
    var end = text.indexOf("\n", off);
    if (end < 0) {
      end = text.length;
    }
    return Math.min(off + Math.max(column - 1, 0), end);
  }
  var links = document.querySelectorAll('.cp-error-summary a[href="#source"]');
  Array.prototype.forEach.call(links, function (link) {
    var m = /line (\d+), column (\d+)/.exec(link.textContent);
    if (!m) {
      return;
    }
    link.addEventListener("click", function (event) {
      event.preventDefault();
      var line = parseInt(m[1], 10);
      var at = offsetOf(source.value, line, parseInt(m[2], 10));
      source.focus();
      source.setSelectionRange(at, at);
      var lineHeight = parseFloat(window.getComputedStyle(source).lineHeight) || 20;
      source.scrollTop = Math.max(0, (line - 3) * lineHeight);
    });
  });
})();
