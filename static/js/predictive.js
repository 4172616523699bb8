/* Customer values pages: draw the detail and Model check charts; reload the list when a running fit ends. */
(function () {
  "use strict";

  function draw(chartId, dataId) {
    var target = document.getElementById(chartId);
    var source = document.getElementById(dataId);
    if (!target || !source || !window.Plotly) return;
    var figure = JSON.parse(source.textContent);
    var layout = Object.assign({ autosize: true, height: 320, font: { size: 12 } }, figure.layout || {});
    window.Plotly.newPlot(target, figure.data, layout, window.clvPlotConfig({ responsive: true }));
    target.setAttribute("data-rendered", "true");
  }

  draw("history-chart", "history-figure");
  draw("p-alive-chart", "p-alive-figure");
  draw("tracking-chart", "tracking-figure");
  draw("conditional-chart", "conditional-figure");

  // The Model check is being computed by the worker: look again shortly.
  if (document.getElementById("model-check-pending")) {
    setTimeout(function () { window.location.reload(); }, 5000);
  }

  var running = document.getElementById("fit-running");
  if (running && window.clvPoll) {
    window.clvPoll(running.getAttribute("data-status-url"), function (data) {
      if (data.done) {
        window.location.reload();
        return false;
      }
      return true;
    }, 2000);
  }
})();
