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

  function update(run) {
    set("kr-rows-read", run.rowsRead);
    set("kr-imported", run.imported);
    set("kr-failed", run.failedRows);
    set("kr-run-duration", run.duration);
    var status = document.getElementById("kr-run-status");
    status.textContent = run.status;
    status.className = "kr-status kr-big kr-" + run.status.toLowerCase();
    run.steps.forEach(function (step) {
      var row = document.querySelector('#kr-steps tr[data-step="' + step.name + '"]');
      if (!row) return;
      row.querySelector(".kr-passed").textContent = step.passed;
      var failed = row.querySelector(".kr-failed");
      failed.textContent = step.failed;
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
