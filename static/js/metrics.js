/* Assumptions page: while a recompute runs, poll its status and show its progress. */
(function () {
  "use strict";
  var box = document.getElementById("recompute-runs");
  if (!box || box.dataset.running !== "1" || !window.clvPoll) return;
  var bar = document.querySelector("#recompute-progress .bar");
  var progress = document.getElementById("recompute-progress");
  window.clvPoll(box.dataset.statusUrl, function (data) {
    var run = data.runs && data.runs[0];
    if (!run) return false;
    if (bar) { bar.style.width = run.progress + "%"; progress.setAttribute("aria-valuenow", run.progress); }
    var row = document.querySelector('tr[data-run="' + run.id + '"] .run-status');
    if (row) row.textContent = run.status_label;
    if (!data.running) { window.location.reload(); return false; }
    return true;
  }, 1500);
})();
