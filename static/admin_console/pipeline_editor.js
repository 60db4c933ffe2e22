// The pipeline editor: SQL and code editors (CodeMirror), Preview, "Use as input schema", choosers
// of the user ID and update time columns, the mapping editor, and "Test on preview rows".
// Everything is checked again by the server when the form is saved (the same service as the API).
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("kr-editor-config").textContent);
  var form = document.getElementById("pipeline_form");
  var $ = function (id) { return document.getElementById(id); };
  var editors = {};
  var schemaRows = [];       // rows of the current input schema: {name, type, kind, nullable, userId, updatedAt}
  var lastPreview = null;

  // ------------------------------------------------------------------ helpers

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") node.textContent = attrs[key];
      else if (key === "className") node.className = attrs[key];
      else node.setAttribute(key, attrs[key]);
    });
    (children || []).forEach(function (child) {
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function cellValue(value) {
    if (value === null || value === undefined) return el("span", {className: "kr-null", text: "null"});
    if (typeof value === "object") return el("code", {text: JSON.stringify(value)});
    return document.createTextNode(String(value));
  }

  // A table cell cut to the column's width (CSS), with the whole value on hover: one long value
  // must not push the other columns out of sight.
  function cell(value) {
    var td = el("td", {className: "kr-cell"}, [cellValue(value)]);
    if (value !== null && value !== undefined) td.title = typeof value === "object" ? JSON.stringify(value) : String(value);
    return td;
  }

  function status(id, text, kind) {
    var node = $(id);
    node.className = "kr-result" + (kind ? " kr-" + kind : "");
    node.textContent = text;
  }

  function post(url, extra) {
    Object.keys(editors).forEach(function (key) { editors[key].save(); });
    writeMapping();
    var data = new FormData(form);
    if (config.pipelineId) data.set("pipeline_id", config.pipelineId);
    Object.keys(extra || {}).forEach(function (key) { data.set(key, extra[key]); });
    return fetch(url, {method: "POST", body: data, credentials: "same-origin"}).then(function (response) {
      return response.json().then(function (body) {
        if (!response.ok || body.error) throw new Error(body.error || ("HTTP " + response.status));
        return body;
      });
    });
  }

  function workspaceId() {
    if (config.workspace) return config.workspace;
    var select = $("id_connection");
    return select && select.value ? String(config.connectionWorkspaces[select.value] || "") : "";
  }

  function transformationKind() {
    var checked = form.querySelector('input[name="transformation"]:checked');
    return checked ? checked.value : "mapping";
  }

  // ------------------------------------------------------------------ code editors

  function makeEditor(textarea, mode) {
    var editor = CodeMirror.fromTextArea(textarea, {
      mode: mode, lineNumbers: true, matchBrackets: true, autoCloseBrackets: true, indentUnit: mode === "python" ? 4 : 2,
      tabSize: 4, viewportMargin: Infinity, extraKeys: {"Ctrl-Enter": function () { $("kr-preview").click(); }}
    });
    editor.getWrapperElement().setAttribute("data-editor-for", textarea.name);
    return editor;
  }

  editors.query = makeEditor($("id_query"), "text/x-sql");
  editors.source = makeEditor($("id_function_source"), $("id_function_language").value === "Python" ? "python" : "javascript");

  $("id_function_language").addEventListener("change", function () {
    var language = this.value;
    var other = language === "Python" ? "JavaScript" : "Python";
    editors.source.setOption("mode", language === "Python" ? "python" : "javascript");
    editors.source.setOption("indentUnit", language === "Python" ? 4 : 2);
    var current = editors.source.getValue().trim();
    if (current === "" || current === config.templates[other].trim()) {
      editors.source.setValue(config.templates[language]);
    }
  });

  // ------------------------------------------------------------------ input schema and column choosers

  function readInSchema() {
    var text = $("id_in_schema").value.trim();
    if (!text) return null;
    try { return JSON.parse(text); } catch (e) { return undefined; }
  }

  function rowsOf(schema) {
    // A text or JSON column is offered as the update time only when the preview showed times in it
    // (the server says so, with their format); a datetime or date column always is.
    var previewed = {};
    ((lastPreview && lastPreview.schemaRows) || []).forEach(function (r) { previewed[r.name + ":" + r.kind] = r; });
    return ((schema && schema.properties) || []).map(function (p) {
      var seen = previewed[p.name + ":" + p.type.kind];
      return {name: p.name, type: seen ? seen.type : typeText(p.type), kind: p.type.kind, nullable: !!p.nullable,
              userId: ["string", "int", "uuid", "json"].indexOf(p.type.kind) >= 0,
              updatedAt: ["datetime", "date"].indexOf(p.type.kind) >= 0 || !!(seen && seen.updatedAt),
              timeFormat: seen ? seen.timeFormat : null};
    });
  }

  function typeText(t) {
    // A short label; the server's own text is used when the schema came from a preview.
    if (t.kind === "int") return "int(" + (t.bitSize || 32) + ")" + (t.unsigned ? " unsigned" : "");
    if (t.kind === "float") return "float(" + (t.bitSize || 64) + ")";
    if (t.kind === "decimal") return "decimal(" + t.precision + "," + (t.scale || 0) + ")";
    if (t.kind === "string" && t.values) return "string(one of " + t.values.join(", ") + ")";
    if (t.kind === "string" && t.maxLength) return "string(" + t.maxLength + ")";
    if (t.kind === "string" && t.maxBytes) return "string(" + t.maxBytes + " bytes)";
    if (t.kind === "array") return "array(" + typeText(t.elementType) + ")";
    if (t.kind === "map") return "map(" + typeText(t.elementType) + ")";
    return t.kind;
  }

  function renderSchemaTable(table, rows) {
    table.innerHTML = "";
    table.appendChild(el("thead", {}, [el("tr", {}, [el("th", {text: "Column"}), el("th", {text: "Type"}),
      el("th", {text: "Nullable"}), el("th", {text: "Can be"})])]));
    var body = el("tbody");
    rows.forEach(function (row) {
      var uses = [];
      if (row.userId) uses.push("user ID");
      if (row.updatedAt) uses.push("update time");
      body.appendChild(el("tr", {}, [el("td", {}, [el("code", {text: row.name})]), el("td", {text: row.type}),
        el("td", {text: row.nullable ? "yes" : "no"}), el("td", {className: "kr-muted", text: uses.join(", ") || "—"})]));
    });
    table.appendChild(body);
  }

  function fillChooser(select, rows, flag, allowNone) {
    var current = select.dataset.value !== undefined ? select.dataset.value : select.value;
    select.innerHTML = "";
    select.appendChild(el("option", {value: "", text: allowNone ? "— none —" : "— choose a column —"}));
    var found = current === "";
    rows.forEach(function (row) {
      // the saved choice stays offered even when this page cannot tell (no preview yet)
      if (!row[flag] && row.name !== current) return;
      var option = el("option", {value: row.name, text: row.name + " (" + row.kind + ")"});
      if (row.name === current) { option.selected = true; found = true; }
      select.appendChild(option);
    });
    if (!found) {
      var missing = el("option", {value: current, text: current + " (not in the input schema)"});
      missing.selected = true;
      select.appendChild(missing);
    }
    delete select.dataset.value;
  }

  function refreshSchema() {
    var schema = readInSchema();
    schemaRows = schema ? rowsOf(schema) : [];
    var table = $("kr-in-schema-table");
    if (schema === undefined) {
      table.hidden = true;
      $("kr-in-schema-empty").hidden = false;
      $("kr-in-schema-empty").textContent = "The input schema is not valid JSON.";
    } else {
      table.hidden = schemaRows.length === 0;
      $("kr-in-schema-empty").hidden = schemaRows.length > 0;
      renderSchemaTable(table, schemaRows);
    }
    fillChooser($("id_user_id_column"), schemaRows, "userId", false);
    fillChooser($("id_updated_at_column"), schemaRows, "updatedAt", true);
    refreshFormatRow();
  }

  function refreshFormatRow() {
    var column = $("id_updated_at_column").value;
    var row = schemaRows.filter(function (r) { return r.name === column; })[0];
    var needsFormat = row && (row.kind === "string" || row.kind === "json");
    var formatRow = form.querySelector(".field-updated_at_format");
    formatRow.hidden = !needsFormat && !$("id_updated_at_format").value;
    if (needsFormat && !$("id_updated_at_format").value) $("id_updated_at_format").value = row.timeFormat || "ISO8601";
    if (!needsFormat && row) $("id_updated_at_format").value = "";
    var incremental = $("id_incremental");
    incremental.disabled = !column;
    if (!column) incremental.checked = false;
  }

  // Keep the posted values of the choosers (their options are built here).
  ["id_user_id_column", "id_updated_at_column"].forEach(function (id) {
    var select = $(id);
    select.dataset.value = select.getAttribute("data-initial") || select.value || initialValue(select);
  });
  function initialValue(select) {
    var option = select.querySelector("option[selected]");
    return option ? option.value : "";
  }

  $("id_updated_at_column").addEventListener("change", refreshFormatRow);
  $("id_in_schema").addEventListener("change", function () { refreshSchema(); checkMapping(); });

  // ------------------------------------------------------------------ preview

  $("kr-preview").addEventListener("click", function () {
    var button = this;
    button.disabled = true;
    status("kr-preview-status", "Running the query…");
    post(config.urls.preview).then(function (result) {
      lastPreview = result;
      showPreview(result);
      status("kr-preview-status", result.rows.length + " row" + (result.rows.length === 1 ? "" : "s") +
        ", " + result.columns.length + " column" + (result.columns.length === 1 ? "" : "s"), "ok");
    }).catch(function (error) {
      $("kr-preview-result").hidden = true;
      status("kr-preview-status", error.message, "error");
    }).finally(function () { button.disabled = false; });
  });

  function showPreview(result) {
    var table = $("kr-preview-rows");
    table.innerHTML = "";
    table.appendChild(el("thead", {}, [el("tr", {}, result.columns.map(function (c) { return el("th", {text: c}); }))]));
    var body = el("tbody");
    result.rows.forEach(function (row) {
      body.appendChild(el("tr", {}, result.columns.map(function (c) { return cell(row[c]); })));
    });
    table.appendChild(body);
    $("kr-preview-count").textContent = "(" + result.rows.length + " of at most 20 rows)";
    renderSchemaTable($("kr-preview-schema"), result.schemaRows);
    var issues = $("kr-preview-issues");
    issues.innerHTML = "";
    result.issues.forEach(function (issue) { issues.appendChild(el("li", {text: issue})); });
    $("kr-use-schema").disabled = !result.schema;
    $("kr-preview-result").hidden = false;
  }

  $("kr-use-schema").addEventListener("click", function () {
    if (!lastPreview || !lastPreview.schema) return;
    $("id_in_schema").value = JSON.stringify(lastPreview.schema, null, 2);
    var rows = lastPreview.schemaRows;
    var userId = $("id_user_id_column");
    refreshSchema();
    // Sensible first choices: an "id"-like column for the user ID, an "updated"-like one for the time.
    if (!userId.value) {
      var guess = rows.filter(function (r) { return r.userId && /(^|_)id$/i.test(r.name); })[0];
      if (guess) userId.value = guess.name;
    }
    var updated = $("id_updated_at_column");
    if (!updated.value) {
      var when = rows.filter(function (r) { return r.updatedAt && r.kind !== "json" && /updated|modified/i.test(r.name); })
        .sort(function (a, b) { return (a.kind === "datetime" ? 0 : 1) - (b.kind === "datetime" ? 0 : 1); })[0];
      if (when) {
        updated.value = when.name;
        $("id_incremental").checked = true;
      }
    }
    refreshFormatRow();
    checkMapping();
    status("kr-preview-status", "Input schema filled from the preview (" + rows.length + " columns).", "ok");
  });

  // ------------------------------------------------------------------ mapping editor / function outputs

  var mappingValues = JSON.parse($("id_mapping").value || "{}") || {};
  var outPaths = JSON.parse($("id_function_out_paths").value || "[]") || [];
  var rowErrors = config.rowErrors || {};

  function renderMapping() {
    var body = $("kr-mapping").querySelector("tbody");
    body.innerHTML = "";
    var rows = config.profiles[workspaceId()] || [];
    if (!rows.length) {
      body.appendChild(el("tr", {}, [el("td", {colspan: "4", className: "kr-empty",
        text: workspaceId() ? "The workspace's profile schema has no properties." : "Choose a connection first."})]));
      return;
    }
    rows.forEach(function (row) {
      var input = el("input", {type: "text", className: "vTextField kr-mono kr-expression", "data-path": row.path,
        "aria-label": "Expression for " + row.path, placeholder: "not mapped", spellcheck: "false"});
      input.value = mappingValues[row.path] || "";
      input.addEventListener("input", function () {
        mappingValues[row.path] = input.value;
        scheduleCheck();
      });
      var checkbox = el("input", {type: "checkbox", className: "kr-out-path", "data-path": row.path,
        "aria-label": "The function sets " + row.path});
      checkbox.checked = outPaths.indexOf(row.path) >= 0;
      checkbox.addEventListener("change", function () {
        outPaths = outPaths.filter(function (p) { return p !== row.path; });
        if (checkbox.checked) outPaths.push(row.path);
      });
      var error = el("div", {className: "kr-row-error", "data-error-for": row.path});
      body.appendChild(el("tr", {"data-path": row.path}, [
        el("td", {}, [el("code", {text: row.path}), row.description ? el("div", {className: "kr-desc", text: row.description}) : ""]),
        el("td", {className: "kr-muted", text: row.type}),
        el("td", {className: "kr-when-mapping"}, [input, error]),
        el("td", {className: "kr-when-function"}, [checkbox])
      ]));
    });
    showRowErrors(rowErrors);
  }

  // A refused save leaves its banner and messages on the page; once what they were about is fixed
  // (the mapping checks clean, a test passes, the field is edited), they go.
  function clearSavedErrors(rows) {
    rows.forEach(function (row) {
      if (!row) return;
      row.classList.remove("errors");
      row.querySelectorAll(":scope > .errorlist").forEach(function (list) { list.remove(); });
    });
    if (!form.querySelector(".form-row.errors")) {
      form.querySelectorAll(".errornote, #pipeline_form > .errorlist").forEach(function (node) { node.remove(); });
    }
  }

  function transformationRows() {
    return [form.querySelector(".kr-mapping-row"), form.querySelector(".field-function_source"),
            form.querySelector(".field-transformation")];
  }

  function showRowErrors(errors, checked) {
    rowErrors = errors || {};
    var mappingRow = form.querySelector(".kr-mapping-row");
    if (checked) {
      // each expression is marked on its own row now, not every input of the table
      mappingRow.classList.remove("errors");
      if (!Object.keys(rowErrors).length) clearSavedErrors([mappingRow]);
    }
    document.querySelectorAll(".kr-row-error").forEach(function (node) {
      var message = rowErrors[node.dataset.errorFor] || "";
      node.textContent = message;
      node.hidden = !message;
      node.closest("tr").classList.toggle("kr-has-error", !!message);
    });
  }

  function writeMapping() {
    var mapping = {};
    Object.keys(mappingValues).forEach(function (path) {
      if ((mappingValues[path] || "").trim()) mapping[path] = mappingValues[path];
    });
    $("id_mapping").value = JSON.stringify(mapping);
    $("id_function_out_paths").value = JSON.stringify(outPaths);
  }

  var checkTimer = null;
  function scheduleCheck() {
    clearTimeout(checkTimer);
    checkTimer = setTimeout(checkMapping, 400);
  }

  function checkMapping() {
    if (transformationKind() !== "mapping" || !workspaceId()) return;
    writeMapping();
    if ($("id_mapping").value === "{}") { showRowErrors({}, true); return; }
    post(config.urls.checkMapping).then(function (answer) { showRowErrors(answer.errors, true); })
      .catch(function () { /* the connection is not chosen yet: the server says so on save */ });
  }

  function showKind() {
    var kind = transformationKind();
    $("kr-function-settings").hidden = kind !== "function";
    document.body.classList.toggle("kr-mode-function", kind === "function");
    document.body.classList.toggle("kr-mode-mapping", kind !== "function");
    if (kind === "function") editors.source.refresh();
  }

  form.querySelectorAll('input[name="transformation"]').forEach(function (radio) {
    radio.addEventListener("change", showKind);
  });

  // ------------------------------------------------------------------ test on preview rows

  $("kr-test").addEventListener("click", function () {
    var button = this;
    button.disabled = true;
    status("kr-test-status", "Running the query and the transformation…");
    post(config.urls.test).then(function (answer) {
      var ticked = answer.ticked || [];
      if (answer.outPaths) {
        outPaths = answer.outPaths.slice();
        document.querySelectorAll(".kr-out-path").forEach(function (box) {
          box.checked = outPaths.indexOf(box.dataset.path) >= 0;
        });
        markDirty();
      }
      showTest(answer);
      var failed = answer.failed;
      status("kr-test-status", answer.results.length + " row" + (answer.results.length === 1 ? "" : "s") +
        " transformed, " + failed + " with an error" +
        (ticked.length ? "; ticked “Set by the function” for " + ticked.join(", ") + ", which it returns" : ""),
        failed ? "warn" : "ok");
      if (!failed) clearSavedErrors(transformationRows());
    }).catch(function (error) {
      $("kr-test-result").hidden = true;
      status("kr-test-status", error.message, "error");
    }).finally(function () { button.disabled = false; });
  });

  // One column per profile property the test set, as the preview shows the query's columns; a row
  // that failed shows the step (as the run page names it) and the message across them.
  function showTest(answer) {
    var table = $("kr-test-rows");
    var properties = answer.properties;
    table.innerHTML = "";
    table.appendChild(el("thead", {}, [el("tr", {}, [el("th", {text: "Row"}), el("th", {text: "User ID"})]
      .concat(properties.map(function (p) { return el("th", {text: p}); })))]));
    var body = el("tbody");
    answer.results.forEach(function (r) {
      var cells = [el("td", {text: String(r.row)}), cell(r.userId)];
      if (r.error) {
        cells.push(el("td", {colspan: String(Math.max(properties.length, 1))}, [el("div", {className: "kr-row-error"},
          [el("strong", {className: "kr-step", text: r.stepLabel + ": "}), r.error])]));
      } else {
        properties.forEach(function (p) { cells.push(cell(r.values[p])); });
      }
      body.appendChild(el("tr", {className: r.error ? "kr-has-error" : ""}, cells));
    });
    table.appendChild(body);
    $("kr-test-result").hidden = false;
  }

  // ------------------------------------------------------------------ unsaved edits

  // "Run now" runs the saved pipeline: with unsaved edits, it says so and asks first. A save that
  // resets the cursor (incremental off, or the query, columns, schema or transformation changed)
  // says so before it happens.
  var dirty = false;
  var definitionChanged = false;
  var NOT_DEFINITION = ["name", "enabled", "schedule_period", "incremental"];

  function markDirty(field) {
    dirty = true;
    if (!field || NOT_DEFINITION.indexOf(field) < 0) definitionChanged = true;
    if ($("kr-unsaved-run")) $("kr-unsaved-run").hidden = false;
    refreshCursorNote();
  }

  function refreshCursorNote() {
    var note = $("kr-cursor-note");
    if (!note || !config.cursor) return;
    var why = !$("id_incremental").checked ? "Incremental is off"
      : definitionChanged ? "the query, the columns, the schema or the transformation changed" : "";
    note.hidden = !why;
    note.textContent = why ? "Saving resets the cursor (" + config.cursor + "), because " + why +
      ": the next incremental run reads every row again." : "";
  }

  form.addEventListener("input", function (event) {
    var row = event.target.closest(".form-row.errors");
    if (row && !row.classList.contains("kr-mapping-row")) clearSavedErrors([row]);
    markDirty(event.target.name);
  });
  form.addEventListener("change", function (event) { markDirty(event.target.name); });
  Object.keys(editors).forEach(function (key) {
    editors[key].on("change", function () {
      var row = editors[key].getWrapperElement().closest(".form-row.errors");
      if (row) clearSavedErrors([row]);
      markDirty(key === "query" ? "query" : "function_source");
    });
  });
  ["kr-run-full", "kr-run-incremental"].forEach(function (id) {
    var button = $(id);
    if (!button) return;
    button.addEventListener("click", function (event) {
      if (dirty && !window.confirm("This page has unsaved changes. Run now runs the saved pipeline, without " +
                                   "them. Run the saved pipeline anyway?")) {
        event.preventDefault();
      }
    });
  });

  // Choosing an update time column makes the scheduled runs incremental (untick to keep them full).
  $("id_updated_at_column").addEventListener("change", function () {
    if (this.value && !$("id_incremental").checked) {
      $("id_incremental").checked = true;
      refreshCursorNote();
    }
  });

  // ------------------------------------------------------------------ start

  var connection = $("id_connection");
  if (connection) {
    connection.addEventListener("change", function () { renderMapping(); checkMapping(); });
  }
  form.addEventListener("submit", function () { writeMapping(); $("id_incremental").disabled = false; });
  refreshSchema();
  renderMapping();
  showKind();
})();
