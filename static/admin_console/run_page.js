// The run page: while the run is live, follow its counters about every second; reload when it ends
// so that the kept per-record errors are shown.
(function () {
  "use strict";
  var main = document.getElementById("content-main");
  if (!main || main.dataset.live !== "1") return;
  var url = main.dataset.progressUrl;

  function set(id, text) {
    var el = document.getElementById(id);
    if (el) el.textContent = text;
  }

  // counts with thousands separators, as the server renders them (50,006)
  function count(n) { return Number(n).toLocaleString("en-US"); }

  function update(run) {
    set("kr-rows-read", count(run.rowsRead));
    set("kr-imported", count(run.imported));
    set("kr-failed", count(run.failedRows));
    set("kr-run-duration", run.duration);
    var status = document.getElementById("kr-run-status");
    status.textContent = run.statusLabel;
    status.className = "kr-status kr-big kr-" + run.status.toLowerCase();
    run.steps.forEach(function (step) {
      var row = document.querySelector('#kr-steps tr[data-step="' + step.name + '"]');
      if (!row) return;
      row.querySelector(".kr-passed").textContent = count(step.passed);
      var failed = row.querySelector(".kr-failed");
      failed.textContent = count(step.failed);
      failed.classList.toggle("kr-nonzero", step.failed > 0);
    });
  }

  function poll() {
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) { return response.json(); })
      .then(function (run) {
        update(run);
        if (run.live) {
          setTimeout(poll, 1000);
        } else {
          window.location.reload();
        }
      })
      .catch(function () { setTimeout(poll, 3000); });
  }

  setTimeout(poll, 1000);
})();
