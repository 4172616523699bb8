/* Shared helpers: poll a JSON progress endpoint until the job is finished. */
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
})();
