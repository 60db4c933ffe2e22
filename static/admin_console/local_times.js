// Times the server writes in UTC (<time class="kr-local" datetime="...">) also in the browser's own
// time zone, after them: "10:45 UTC (11:45 Europe/Rome)".
(function () {
  "use strict";
  document.querySelectorAll("time.kr-local[datetime]").forEach(function (node) {
    var moment = new Date(node.getAttribute("datetime"));
    if (isNaN(moment)) return;
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "local time";
    var local = moment.toLocaleString([], {hour: "2-digit", minute: "2-digit", hour12: false,
      month: "short", day: "numeric"});
    var extra = document.createElement("span");
    extra.className = "kr-local-time";
    extra.textContent = " (" + local + " " + zone + ")";
    node.after(extra);
  });
})();
