// The profile schema as a table: add and remove properties; the length only where the type has one.
// On the workspace's add page, the PostgreSQL fields show only when PostgreSQL is chosen.
// Loaded in the head by the admin's Media (the schema page defers it): it waits for the page.
function krProfileSchema() {
  "use strict";
  var LENGTH_KINDS = ["string", "int", "float", "decimal"];

  function refreshLength(row) {
    var kind = row.querySelector(".kr-prop-kind").value;
    var length = row.querySelector(".kr-prop-length");
    length.readOnly = LENGTH_KINDS.indexOf(kind) < 0;  // not disabled: every row must post each of its inputs
    length.placeholder = {string: "no limit", int: "32", float: "64", decimal: "10,2"}[kind] || "—";
    if (length.readOnly) length.value = "";
  }

  function wire(row) {
    row.querySelector(".kr-prop-kind").addEventListener("change", function () { refreshLength(row); });
    row.querySelector(".kr-remove-prop").addEventListener("click", function () {
      var body = row.parentNode;
      if (body.querySelectorAll("tr").length > 1) row.remove();
      else row.querySelectorAll("input[type=text]").forEach(function (input) { input.value = ""; });
    });
    refreshLength(row);
  }

  var table = document.getElementById("kr-schema-table");
  if (table) {
    // The blank rows are for pages without JavaScript: here "Add a property" adds one where needed.
    var rows = table.querySelectorAll("tbody tr");
    rows.forEach(function (row, i) {
      var blank = !row.querySelector(".kr-prop-name").value && !row.querySelector('input[name="prop_original"]').value;
      if (blank && i > 0) row.remove();
    });
    table.querySelectorAll("tbody tr").forEach(wire);
    document.getElementById("kr-add-prop").addEventListener("click", function () {
      var rows = table.querySelectorAll("tbody tr");
      var copy = rows[rows.length - 1].cloneNode(true);
      copy.querySelectorAll("input").forEach(function (input) { input.defaultValue = ""; input.value = ""; });
      copy.querySelectorAll(".kr-desc").forEach(function (node) { node.remove(); });
      var kind = copy.querySelector(".kr-prop-kind");
      kind.querySelectorAll('option[value="keep"]').forEach(function (option) { option.remove(); });
      kind.value = "string";
      table.querySelector("tbody").appendChild(copy);
      wire(copy);
      copy.querySelector(".kr-prop-name").focus();
    });
  }

  var platform = document.getElementById("id_platform");
  if (platform) {
    var show = function () {
      var postgres = platform.value === "PostgreSQL";
      ["host", "port", "username", "password", "database", "schema"].forEach(function (name) {
        var row = document.querySelector(".form-row.field-" + name);
        if (row) row.hidden = !postgres;
      });
    };
    platform.addEventListener("change", show);
    show();
  }
}
if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", krProfileSchema);
else krProfileSchema();
