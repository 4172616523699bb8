/* The Investor view and its board-pack page: draw each chart from the figures JSON (no inline script). */
(function () {
  "use strict";
  var source = document.getElementById("valuation-figures");
  if (!source || !window.Plotly) return;
  var figures = JSON.parse(source.textContent);
  var charts = document.querySelectorAll(".js-valuation-chart");
  var pending = charts.length;
  Array.prototype.forEach.call(charts, function (target) {
    var figure = figures[target.getAttribute("data-figure")];
    if (!figure) { pending -= 1; return; }
    var layout = Object.assign({ autosize: true }, figure.layout || {});
    if (window.matchMedia && window.matchMedia("(max-width: 720px)").matches) {
      layout.margin = Object.assign({}, layout.margin || {}, { l: 50, r: 10 });
    }
    window.Plotly.newPlot(target, figure.data, layout, window.clvPlotConfig({ responsive: true }))
      .then(function () {
        target.setAttribute("data-rendered", "true");
        pending -= 1;
        if (pending <= 0) document.body.setAttribute("data-valuation-rendered", "true");
      });
  });
  if (pending <= 0) document.body.setAttribute("data-valuation-rendered", "true");
})();
