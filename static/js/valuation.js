/* The Investor view and its board-pack page: draw each chart from the figures JSON (no inline script). */
(function () {
  "use strict";
  var source = document.getElementById("valuation-figures");
  if (!source || !window.Plotly) return;
  var figures = JSON.parse(source.textContent);
  var charts = document.querySelectorAll(".js-valuation-chart");
  var narrow = window.matchMedia && window.matchMedia("(max-width: 720px)").matches;

  // On a narrow screen the bridge turns on its side (app.js), its amounts at their own size
  // beside the bars (upright, they shrank to fit them) and every other amount on its axis.
  function sideways(figure) {
    figure = window.clvSideways(figure, { right: 64, rowHeight: 40,
                                          trace: { constraintext: "none", textfont: { size: 11 } } });
    var axis = figure.layout.xaxis;
    axis.tickangle = 0;
    if (axis.tickvals && axis.tickvals.length > 3) {
      var keep = function (v, i) { return i % 2 === 0; };
      axis.tickvals = axis.tickvals.filter(keep);
      axis.ticktext = (axis.ticktext || []).filter(keep);
    }
    return figure;
  }

  var pending = charts.length;
  Array.prototype.forEach.call(charts, function (target) {
    var figure = figures[target.getAttribute("data-figure")];
    if (!figure) { pending -= 1; return; }
    var bridge = narrow && (figure.data || []).some(function (t) { return t.type === "waterfall"; });
    if (bridge) figure = sideways(figure);
    var layout = Object.assign({ autosize: true }, figure.layout || {});
    if (narrow && !bridge) {
      layout.margin = Object.assign({}, layout.margin || {}, { l: 50, r: 10 });
      // Fewer dates on a narrow time axis: they fit without standing on end.
      if (layout.xaxis && !layout.xaxis.tickvals) layout.xaxis = Object.assign({}, layout.xaxis, { nticks: 5 });
    }
    if (narrow) layout = window.clvWrapTitle(layout, target.clientWidth || window.innerWidth);
    window.Plotly.newPlot(target, figure.data, layout, window.clvPlotConfig({ responsive: true }))
      .then(function () {
        target.setAttribute("data-rendered", "true");
        pending -= 1;
        if (pending <= 0) document.body.setAttribute("data-valuation-rendered", "true");
      });
  });
  if (pending <= 0) document.body.setAttribute("data-valuation-rendered", "true");
})();
