// The connection form: show the settings of the chosen connector, and the "Test connection" button.
(function () {
  "use strict";
  var FIELDS = {
    postgresql: ["host", "port", "username", "password", "database", "schema", "sslmode", "ssl_ca", "ssl_ca_clear"],
    mysql: ["host", "port", "username", "password", "database", "ssl_mode", "ssl_ca", "ssl_ca_clear"],
    sqlite: ["path"]
  };
  var ALL = ["host", "port", "username", "password", "database", "schema", "path", "sslmode", "ssl_mode", "ssl_ca",
             "ssl_ca_clear"];
  var PORTS = {postgresql: "5432", mysql: "3306"};

  function row(name) {
    return document.querySelector(".form-row.field-" + name);
  }

  function connector() {
    var select = document.getElementById("id_connector");
    return select ? select.value : "";
  }

  function showFields() {
    var wanted = FIELDS[connector()] || ALL;
    ALL.forEach(function (name) {
      var r = row(name);
      if (r) r.hidden = wanted.indexOf(name) < 0;
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var select = document.getElementById("id_connector");
    if (!select) return;
    var previous = select.value;
    select.addEventListener("change", function () {
      var port = document.getElementById("id_port");
      if (port && (port.value === "" || port.value === PORTS[previous]) && PORTS[select.value]) {
        port.value = PORTS[select.value];
      }
      previous = select.value;
      showFields();
    });
    showFields();

    var box = document.querySelector(".kr-test-connection");
    var button = document.getElementById("kr-test-connection");
    var result = document.getElementById("kr-test-connection-result");
    if (!box || !button) return;
    button.addEventListener("click", function () {
      var form = button.closest("form");
      var data = new FormData(form);
      if (select.disabled) data.set("connector", select.value);
      if (box.dataset.connection) data.set("connection_id", box.dataset.connection);
      result.className = "kr-result";
      result.textContent = "Connecting…";
      button.disabled = true;
      fetch(box.dataset.url, {method: "POST", body: data, credentials: "same-origin"})
        .then(function (response) { return response.json(); })
        .then(function (answer) {
          var warnings = answer.warnings || [];
          result.className = "kr-result " + (!answer.ok ? "kr-error" : warnings.length ? "kr-warn" : "kr-ok");
          result.textContent = answer.ok ? "✔ " + answer.message : "✘ " + (answer.message || answer.error);
          warnings.forEach(function (warning) {  // the login can do more than read
            var line = document.createElement("div");
            line.className = "kr-warning";
            line.textContent = "⚠ " + warning;
            result.appendChild(line);
          });
        })
        .catch(function (error) {
          result.className = "kr-result kr-error";
          result.textContent = "✘ " + error;
        })
        .finally(function () { button.disabled = false; });
    });
  });
})();
