/* Shared helpers: poll a JSON progress endpoint until the job is finished; the Plotly
   configuration every chart uses; bridges turned on their side and chart titles wrapped in a
   narrow chart; the language switch. No inline script or handler anywhere:
   the Content-Security-Policy allows scripts from this site's files only. */
(function () {
  "use strict";
  window.clvPoll = function (url, onUpdate, intervalMs) {
    var stopped = false;
    function tick() {
      if (stopped) return;
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.json(); })
        .then(function (data) { if (onUpdate(data) === false) { stopped = true; } else { setTimeout(tick, intervalMs || 1000); } })
        .catch(function () { setTimeout(tick, (intervalMs || 1000) * 2); });
    }
    tick();
    return function () { stopped = true; };
  };

  // Board data must never leave the site: no Plotly logo link, no "send to cloud" or
  // "edit in Chart Studio" button, whatever a chart's own options say.
  // The chart locale follows the page's language: a Chinese page draws with plotly.js's zh-CN
  // locale (static/js/plotly-locale-zh-cn.js, loaded after plotly.min.js).
  var pageLanguage = (document.documentElement.lang || "en").toLowerCase();
  window.clvPlotLocale = pageLanguage.indexOf("zh") === 0 ? "zh-CN" : "en";
  window.clvPlotConfig = function (options) {
    var config = Object.assign({}, options || {});
    config.locale = window.clvPlotLocale;
    config.displaylogo = false;
    config.showSendToCloud = false;
    config.showEditInChartStudio = false;
    config.showLink = false;
    config.sendData = false;
    config.modeBarButtonsToRemove = (config.modeBarButtonsToRemove || []).concat(["sendDataToCloud", "editInChartStudio"]);
    return config;
  };

  // A chart title (or subtitle) longer than a narrow chart is wide goes on two lines or more
  // (Plotly would cut it at the edge): at spaces, or between any two characters of Chinese text.
  // A separator or closing punctuation never starts a line: it stays at the end of the line
  // before ("Equity · 2026-11", not a line that starts with "·").
  var WIDE = /[\u3000-\u9fff\uff00-\uffef]/;
  var TRAILING = /^[\u00b7\u2022|\u2013\u2014:;,.!?)\]\u3001\u3002\uff0c\uff1b\uff1a\uff09\u300d\u300f]+$/;
  function lines(text, size, width) {
    var room = Math.max(12, Math.floor((width - 24) / (size * 0.58)));
    var out = [], line = "", used = 0;
    var tokens = String(text).match(/[\u3000-\u9fff\uff00-\uffef]|[^\s\u3000-\u9fff\uff00-\uffef]+|\s+/g) || [];
    tokens.forEach(function (token) {
      if (/^\s+$/.test(token)) { if (used) { line += " "; used += 1; } return; }
      var cost = WIDE.test(token) ? 1.8 : token.length;
      if (used && used + cost > room && !TRAILING.test(token)) { out.push(line.replace(/\s+$/, "")); line = ""; used = 0; }
      line += token; used += cost;
    });
    if (line) out.push(line);
    return out;
  }
  window.clvWrapTitle = function (layout, width) {
    var title = layout.title;
    if (!title || !title.text) return layout;
    var size = (title.font && title.font.size) || 15;
    var head = lines(title.text, size, width);
    var sub = title.subtitle && title.subtitle.text ? title.subtitle : null;
    var subSize = (sub && sub.font && sub.font.size) || 12;
    var tail = sub ? lines(sub.text, subSize, width) : [];
    var extra = (head.length - 1) * Math.round(size * 1.3) + Math.max(tail.length - 1, 0) * Math.round(subSize * 1.3);
    if (!extra) return layout;
    layout = Object.assign({}, layout);
    layout.title = Object.assign({}, title, { text: head.join("<br>") });
    if (sub) layout.title.subtitle = Object.assign({}, sub, { text: tail.join("<br>") });
    var margin = layout.margin || {};
    layout.margin = Object.assign({}, margin, { t: (margin.t || 72) + extra + 10 });
    layout.height = (layout.height || 360) + extra;  // the plot keeps its height
    return layout;
  };

  // A bridge (waterfall) in a narrow chart turns on its side: the step names become the y axis
  // labels, one per line, readable, instead of columns of words that run together.
  // options: right and bottom margins, rowHeight per step, trace (more settings of the bars).
  window.clvSideways = function (figure, options) {
    options = options || {};
    var layout = Object.assign({}, figure.layout || {});
    var steps = 0;
    var data = (figure.data || []).map(function (trace) {
      if (trace.type !== "waterfall") return trace;
      steps = Math.max(steps, (trace.x || []).length);
      return Object.assign({}, trace, {
        orientation: "h", x: trace.y, y: (trace.x || []).map(function (label) { return String(label).replace(/<br>/g, " ").replace(/([\u3400-\u9fff]) ([\u3400-\u9fff])/g, "$1$2"); }),
        hoverinfo: "y+text", textposition: "outside"
      }, options.trace || {});
    });
    if (!steps) return figure;
    layout.xaxis = Object.assign({}, layout.yaxis || {}, { automargin: true, tickfont: { size: 10 } });
    layout.yaxis = { autorange: "reversed", automargin: true, tickfont: { size: 11 }, gridcolor: "rgba(0,0,0,0)" };
    var margin = { l: 10, r: options.right || 30 };
    if (options.bottom) margin.b = options.bottom;
    layout.margin = Object.assign({}, layout.margin || {}, margin);
    layout.height = Math.max(layout.height || 0, 150 + (options.rowHeight || 34) * steps);
    (layout.annotations || []).forEach(function (note) { if (note.yanchor === "bottom") note.y = 1.0; });
    return { data: data, layout: layout };
  };

  var language = document.getElementById("language-select");
  if (language) {
    language.addEventListener("change", function () { language.form.submit(); });
  }
})();
