/* Imports: refuse an over-large file before uploading it; follow a running import's progress. */
(function () {
  "use strict";
  var form = document.getElementById("upload-form");
  if (form) {
    var input = form.querySelector("input[type=file]");
    var error = document.getElementById("upload-client-error");
    var max = parseInt(form.getAttribute("data-max-bytes"), 10);
    form.addEventListener("submit", function (event) {
      var file = input && input.files && input.files[0];
      if (file && max && file.size > max) {
        event.preventDefault();
        error.textContent = form.getAttribute("data-too-large");
        error.hidden = false;
        return;
      }
      var button = document.getElementById("upload-button");
      if (button) { button.disabled = true; }
    });
  }

  var undo = document.getElementById("undo-form");
  if (undo) {
    undo.addEventListener("submit", function (event) {
      if (!window.confirm(undo.getAttribute("data-confirm"))) { event.preventDefault(); }
    });
  }

  var status = document.getElementById("import-status");
  if (!status || status.getAttribute("data-finished") === "1") { return; }
  var fmt = new Intl.NumberFormat(document.documentElement.lang || undefined);
  var bar = status.querySelector("#import-progress");
  var stage = document.getElementById("import-stage");
  function set(id, value) {
    var el = document.getElementById(id);
    if (el) { el.textContent = fmt.format(value || 0); }
  }
  window.clvPoll(status.getAttribute("data-progress-url"), function (data) {
    bar.firstElementChild.style.width = data.progress + "%";
    bar.setAttribute("aria-valuenow", data.progress);
    set("rows-parsed", data.rows_parsed);
    set("rows-written", data.rows_written);
    set("rows-invalid", data.rows_invalid);
    set("rows-skipped", data.rows_skipped);
    document.getElementById("import-status-label").textContent = data.status_label;
    if (stage) {
      var key = data.status === "pending" ? "data-waiting" : (data.stage === "writing" ? "data-writing" : "data-parsing");
      stage.textContent = stage.getAttribute(key);
    }
    if (data.finished) {
      // Show the result, the errors and the actions rendered by the server.
      window.location.reload();
      return false;
    }
    return true;
  }, 700);
})();
