/* Shared helpers: poll a JSON progress endpoint until the job is finished; the Plotly
   configuration every chart uses; the language switch. No inline script or handler anywhere:
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

  var language = document.getElementById("language-select");
  if (language) {
    language.addEventListener("change", function () { language.form.submit(); });
  }
})();
