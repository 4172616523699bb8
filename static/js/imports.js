/* Imports: refuse an over-large file before uploading it; show the upload's progress; follow a
   running import's progress. */
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
      if (window.FormData && window.XMLHttpRequest) {
        event.preventDefault();
        upload(form, button);
      }
    });
  }

  // The file is sent in the background so that the page can show how much of it has gone; the
  // server's answer is then shown as a normal submission would: the import's page, or this
  // page again with the reason the file was refused.
  function upload(form, button) {
    var box = document.getElementById("upload-progress");
    var bar = document.getElementById("upload-progress-bar");
    var label = document.getElementById("upload-progress-label");
    var percent = document.getElementById("upload-progress-percent");
    var failed = document.getElementById("upload-network-error");
    var fmt = new Intl.NumberFormat(document.documentElement.lang || undefined, {style: "percent"});
    var action = form.action || window.location.href;
    var xhr = new XMLHttpRequest();
    function show(fraction) {
      bar.firstElementChild.style.width = Math.round(fraction * 100) + "%";
      bar.setAttribute("aria-valuenow", Math.round(fraction * 100));
      percent.textContent = fmt.format(fraction);
    }
    xhr.open("POST", action);
    xhr.upload.addEventListener("progress", function (event) {
      if (event.lengthComputable && event.total) { show(event.loaded / event.total); }
    });
    xhr.upload.addEventListener("load", function () {
      show(1);
      label.textContent = label.getAttribute("data-storing");
    });
    xhr.addEventListener("load", function () {
      if (xhr.responseURL && xhr.responseURL.split("#")[0] !== action.split("#")[0]) {
        window.location.assign(xhr.responseURL);  // redirected to the import's page
        return;
      }
      document.open();
      document.write(xhr.responseText);
      document.close();
    });
    xhr.addEventListener("error", function () {
      box.hidden = true;
      failed.hidden = false;
      if (button) { button.disabled = false; }
    });
    failed.hidden = true;
    label.textContent = label.getAttribute("data-sending");
    show(0);
    box.hidden = false;
    xhr.send(new FormData(form));
  }

  var undo = document.getElementById("undo-form");
  if (undo) {
    undo.addEventListener("submit", function (event) {
      if (!window.confirm(undo.getAttribute("data-confirm"))) { event.preventDefault(); }
    });
  }

  var status = document.getElementById("import-status");
  // A loaded import: follow the board recompute it asked for, and show its outcome when it ends.
  var recompute = document.getElementById("import-recompute");
  if (status && recompute && ["succeeded", "failed"].indexOf(recompute.getAttribute("data-status")) < 0) {
    var polls = 0;
    window.clvPoll(status.getAttribute("data-progress-url"), function (data) {
      polls += 1;
      if (data.recompute_status === "succeeded" || data.recompute_status === "failed") {
        window.location.reload();
        return false;
      }
      return polls < 400;  // about ten minutes
    }, 1500);
  }
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
