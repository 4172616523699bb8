/* The Profitability page: draw the whale curve from its figure data (no inline script). */
(function () {
  "use strict";
  var target = document.getElementById("whale-chart");
  var source = document.getElementById("whale-figure");
  if (!target || !source || !window.Plotly) return;
  var figure = JSON.parse(source.textContent);
  var layout = Object.assign({ autosize: true, height: 380, font: { size: 12 } }, figure.layout || {});
  window.Plotly.newPlot(target, figure.data, layout, window.clvPlotConfig({ responsive: true }))
    .then(function () { target.setAttribute("data-rendered", "true"); });
})();
