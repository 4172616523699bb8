/* The Investor view and its board-pack page: draw each chart from the figures JSON (no inline script). */
(function () {
  "use strict";
  var source = document.getElementById("valuation-figures");
  if (!source || !window.Plotly) return;
  var figures = JSON.parse(source.textContent);
  var charts = document.querySelectorAll(".js-valuation-chart");
  var narrow = window.matchMedia && window.matchMedia("(max-width: 720px)").matches;

  // On a narrow screen the bridge turns on its side: the step names become readable y axis
  // labels and the amounts keep their size beside the bars (upright, they shrank to fit them).
  function sideways(figure) {
    var layout = Object.assign({}, figure.layout || {});
    var steps = 0;
    var data = (figure.data || []).map(function (trace) {
      if (trace.type !== "waterfall") return trace;
      steps = Math.max(steps, (trace.x || []).length);
      return Object.assign({}, trace, { orientation: "h", x: trace.y, y: trace.x, hoverinfo: "y+text",
                                        textposition: "outside", constraintext: "none", textfont: { size: 11 } });
    });
    if (!steps) return figure;
    layout.xaxis = Object.assign({}, layout.yaxis || {}, { automargin: true, tickfont: { size: 10 }, tickangle: 0 });
    if (layout.xaxis.tickvals && layout.xaxis.tickvals.length > 3) {  // every other amount: they fit upright
      var keep = function (v, i) { return i % 2 === 0; };
      layout.xaxis.tickvals = layout.xaxis.tickvals.filter(keep);
      layout.xaxis.ticktext = (layout.xaxis.ticktext || []).filter(keep);
    }
    layout.yaxis = { autorange: "reversed", automargin: true, tickfont: { size: 11 }, gridcolor: "rgba(0,0,0,0)" };
    layout.margin = Object.assign({}, layout.margin || {}, { l: 10, r: 64 });
    layout.height = Math.max(layout.height || 0, 150 + 40 * steps);
    return { data: data, layout: layout };
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
