// The page of a new API key: the key is selected on focus, and the Copy button copies it.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var input = document.getElementById("kr-plain-key");
    var copy = document.getElementById("kr-copy-key");
    if (!input || !copy) return;
    input.addEventListener("focus", function () { input.select(); });
    copy.addEventListener("click", function () {
      input.select();
      if (navigator.clipboard) { navigator.clipboard.writeText(input.value); } else { document.execCommand("copy"); }
      copy.textContent = "Copied";
    });
  });
})();
