/* The equity board: draws the server-built Plotly figures, the month/scope controls, the
   what-if, the "How was this computed?" dialog and the recompute progress. */
(function () {
  "use strict";

  var board = document.getElementById("board");
  if (!board) return;
  var isPack = board.getAttribute("data-pack") === "1";

  function readJson(id) {
    var el = document.getElementById(id);
    if (!el) return null;
    try { return JSON.parse(el.textContent); } catch (e) { return null; }
  }

  // 1. Charts --------------------------------------------------------------------------------
  var figures = readJson("board-figures") || {};
  var plotConfig = window.clvPlotConfig(isPack
    ? { staticPlot: true, displayModeBar: false, responsive: false }
    : { responsive: true, modeBarButtonsToRemove: ["select2d", "lasso2d", "autoScale2d"],
        toImageButtonOptions: { format: "png", scale: 2 } });

  var isProjector = board.getAttribute("data-view") === "projector";
  // Below this width a chart is on a phone or in half a printed page: the step names of the
  // bridges are angled so that they never run together, the legend and titles are smaller.
  var NARROW = 640;

  function merge(base, extra) {
    var out = Object.assign({}, base || {});
    Object.keys(extra).forEach(function (key) {
      var value = extra[key];
      out[key] = (value && typeof value === "object" && !Array.isArray(value) && out[key] && typeof out[key] === "object")
        ? merge(out[key], value) : value;
    });
    return out;
  }

  function fitLayout(div, layout) {
    var name = div.getAttribute("data-figure");
    var width = div.clientWidth || 1000;
    if (isProjector) {
      var big = { tickfont: { size: 16 }, title: { font: { size: 17 } } };
      var axes = {};
      ["xaxis", "xaxis2", "yaxis", "yaxis2"].forEach(function (key) { if (key.length === 5 || layout[key]) axes[key] = big; });
      layout = merge(layout, Object.assign({ font: { size: 17 }, title: { font: { size: 24 }, subtitle: { font: { size: 15 } } },
                                             legend: { font: { size: 16 } }, height: Math.max(layout.height || 380, 500) }, axes));
    }
    if (width < NARROW) {
      layout = merge(layout, { title: { font: { size: 14 }, subtitle: { font: { size: 11 } } },
                               legend: { font: { size: 11 } } });
      // Not in the pack: its boxes have the paper's fixed heights, which a taller title would overrun.
      if (!isPack) layout = window.clvWrapTitle(layout, width);
      if (name === "segments" || name === "tornado") {
        layout = merge(layout, { margin: { l: 10, r: 10 } });
      }
      // The amounts outside the tornado's bars need more room beside a narrow plot.
      // Its ticks would crowd: the bars carry their amounts; the axis title goes on two lines.
      if (name === "tornado" && layout.xaxis && layout.xaxis.range) {
        var title = Object.assign({}, layout.xaxis.title || {});
        title.text = String(title.text || "").replace(/ ?([(（])/, "<br>$1");
        title.font = { size: 11 };
        layout.xaxis = Object.assign({}, layout.xaxis, { range: layout.xaxis.range.map(function (v) { return v * 1.9; }),
                                                          showticklabels: false, title: title });
      }
    }
    return layout;
  }

  // The four segment panels in a narrow chart: two by two instead of four in a row, so that
  // their titles and amounts have room and never run into each other.
  function twoByTwo(figure) {
    var layout = Object.assign({}, figure.layout || {});
    var cols = [[0, 0.46], [0.54, 1]];
    var rows = [[0.56, 1], [0, 0.42]];
    var rowsCount = 0;
    var data = (figure.data || []).map(function (trace, i) {
      rowsCount = Math.max(rowsCount, (trace.y || []).length);
      // A long bar carries its amount inside; a short one (a small segment) beside it, where it
      // stays readable instead of shrinking to fit the bar.
      var values = (trace.x || []).map(function (v) { return Math.abs(Number(v) || 0); });
      var longest = Math.max.apply(null, values.concat([0]));
      var positions = values.map(function (v) { return v >= 0.45 * longest ? "inside" : "outside"; });
      return Object.assign({}, trace, { yaxis: i < 2 ? "y" : "y2", textposition: positions,
                                        textfont: { size: 10 }, insidetextanchor: "end" });
    });
    ["xaxis", "xaxis2", "xaxis3", "xaxis4"].forEach(function (key, i) {
      layout[key] = Object.assign({}, layout[key] || {}, { domain: cols[i % 2], anchor: i < 2 ? "y" : "y2" });
    });
    var y = Object.assign({}, layout.yaxis || {}, { domain: rows[0], anchor: "x", tickfont: { size: 10 } });
    layout.yaxis = y;
    layout.yaxis2 = Object.assign({}, y, { domain: rows[1], anchor: "x3" });
    layout.annotations = (layout.annotations || []).map(function (note, i) {
      if (i > 3) return Object.assign({}, note, { font: Object.assign({}, note.font || {}, { size: 10 }) });
      return Object.assign({}, note, { x: (cols[i % 2][0] + cols[i % 2][1]) / 2, y: rows[i < 2 ? 0 : 1][1],
                                       font: Object.assign({}, note.font || {}, { size: 11 }) });
    });
    layout.height = 200 + 2 * 30 * rowsCount;
    layout.margin = Object.assign({}, layout.margin || {}, { l: 10, r: 10 });
    return { data: data, layout: layout };
  }

  function draw(div, figure) {
    var name = div.getAttribute("data-figure");
    var narrow = (div.clientWidth || 1000) < NARROW;
    if ((name === "equity_bridge" || name === "customer_bridge") && narrow) {
      figure = window.clvSideways(figure, { right: 30, bottom: 40, rowHeight: 34 });
    }
    if (name === "segments" && narrow && !isPack) {
      figure = twoByTwo(figure);
    }
    var layout = fitLayout(div, Object.assign({}, figure.layout || {}));
    if (isProjector) {
      figure = { data: (figure.data || []).map(function (trace) {
        return trace.text ? Object.assign({}, trace, { textfont: { size: 15 } }) : trace;
      }), layout: figure.layout };
    }
    if (isPack) {
      layout.width = div.clientWidth || 1000;
      layout.height = Math.min(layout.height || 360, div.clientHeight || layout.height || 360);
    } else if (layout.height) {
      // The box keeps the figure's height whatever the window does, so the card around it
      // never cuts the chart off when the layout reflows (one column on a narrow screen).
      div.style.height = layout.height + "px";
    }
    return window.Plotly.react(div, figure.data || [], layout, plotConfig);
  }

  // Tile values shrink to fit their tile, never clipped: from the stylesheet's size down.
  function fitTiles() {
    Array.prototype.forEach.call(document.querySelectorAll(".tile-value"), function (value) {
      value.style.fontSize = "";
      var size = parseFloat(window.getComputedStyle(value).fontSize) || 16;
      while (value.scrollWidth > value.clientWidth && size > 9) {
        size = Math.max(9, size * 0.92);
        value.style.fontSize = size + "px";
      }
      value.setAttribute("data-fit", "1");
    });
    if (!isPack) return;
    Array.prototype.forEach.call(document.querySelectorAll(".tile-changes li"), function (line) {
      line.style.fontSize = "";
      var size = parseFloat(window.getComputedStyle(line).fontSize) || 12;
      while (line.scrollWidth > line.clientWidth && size > 7) {
        size = Math.max(7, size * 0.94);
        line.style.fontSize = size + "px";
      }
    });
  }
  fitTiles();
  window.clvFitTiles = fitTiles;

  var charts = Array.prototype.slice.call(document.querySelectorAll(".js-chart"));
  if (window.Plotly) {
    charts.forEach(function (div) {
      var figure = figures[div.getAttribute("data-figure")];
      if (figure) draw(div, figure);
    });
  }

  // A window that changes width redraws the charts for it (angled labels on a narrow one) and
  // fits the tile values again.
  var resizeTimer = null;
  if (!isPack) {
    window.addEventListener("resize", function () {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(function () {
        fitTiles();
        if (!window.Plotly) return;
        charts.forEach(function (div) {
          var figure = figures[div.getAttribute("data-figure")];
          if (figure && div.classList.contains("js-plotly-plot")) draw(div, figure);
        });
      }, 250);
    });
  }

  // Drill-down: a click on a segment's bar opens the board of that segment, same month.
  var segments = document.getElementById("chart-segments");
  if (segments && segments.on && !isPack) {
    segments.on("plotly_click", function (event) {
      var point = event && event.points && event.points[0];
      if (!point || !point.customdata) return;
      var query = new URLSearchParams(window.location.search);
      // customdata is [scope key, note] (a plain key in older figures).
      query.set("scope", Array.isArray(point.customdata) ? point.customdata[0] : point.customdata);
      query.set("month", board.getAttribute("data-month"));
      board.classList.add("is-loading");
      window.location.search = query.toString();
    });
  }

  // Fit the charts to the printed page, then back to the screen.
  function resizeAll(width) {
    charts.forEach(function (div) {
      if (!div.classList.contains("js-plotly-plot")) return;
      if (width) {
        window.Plotly.relayout(div, { width: Math.min(width, div.parentElement.clientWidth || width) });
      } else {
        window.Plotly.relayout(div, { width: null, autosize: true });
      }
    });
  }
  if (!isPack && window.Plotly) {
    // An A4 landscape page is about 1,047 CSS pixels wide inside its margins.
    window.addEventListener("beforeprint", function () { resizeAll(1000); fitTiles(); });
    window.addEventListener("afterprint", function () { resizeAll(null); fitTiles(); });
    var printQuery = window.matchMedia ? window.matchMedia("print") : null;
    if (printQuery && printQuery.addEventListener) {
      printQuery.addEventListener("change", function (event) { resizeAll(event.matches ? 1000 : null); });
    }
  }

  var printButton = document.getElementById("pack-print");
  if (printButton) printButton.addEventListener("click", function () { window.print(); });

  // 2. Month, scope and dimension: a change reloads the board for it --------------------------
  Array.prototype.forEach.call(document.querySelectorAll(".js-autosubmit"), function (select) {
    select.addEventListener("change", function () {
      var form = select.form;
      // A new scope brings its own segments dimension unless one was chosen on purpose.
      if (select.name === "scope") {
        var dim = form.querySelector("[name=dimension]");
        var key = select.value;
        if (dim && key.indexOf(":") > 0) dim.value = key.split(":")[0];
      }
      board.classList.add("is-loading");
      form.submit();
    });
  });

  // 3. What-if -------------------------------------------------------------------------------
  // The inputs are in the unit they show (retention and the discount rate in percent) and go
  // to the server so. An input left at its stored value sends the stored value unrounded, so
  // that the what-if of a changed margin alone moves nothing but what the margin moves.
  var whatifForm = document.getElementById("whatif-form");
  if (whatifForm) {
    var fields = ["retention", "margin", "discount"].map(function (name) {
      var number = document.getElementById("whatif-" + name);
      var range = document.getElementById("whatif-" + name + "-range");
      var scale = parseFloat(number.getAttribute("data-scale")) || 1;
      var stored = parseFloat(number.getAttribute("data-default"));
      return { name: name, param: number.getAttribute("data-param"), number: number, range: range, scale: scale,
               stored: stored };
    });
    var status = document.getElementById("whatif-status");
    var timer = null;
    var sequence = 0;
    var srLabels = document.getElementById("whatif-labels");

    function round(value, digits) { var f = Math.pow(10, digits); return Math.round(value * f) / f; }
    function shownStored(field) { return round(field.stored * field.scale, 2); }
    function atStored(field) { return parseFloat(field.number.value) === shownStored(field); }

    function setField(field, shown) {
      field.number.value = shown;
      field.range.value = shown;
    }

    function changeItem(change) {
      var li = el("li", "change change-" + change.tone + " change-whatif");
      li.setAttribute("data-against", "stored");
      var arrow = { up: "▲", down: "▼", flat: "■" }[change.direction] || "·";
      var a = el("span", "change-arrow", arrow); a.setAttribute("aria-hidden", "true"); li.appendChild(a);
      li.appendChild(el("span", "change-abs", change.absolute));
      li.appendChild(el("span", "change-pct", "(" + change.percent + ")"));
      li.appendChild(el("span", "change-label", change.label));
      var words = srLabels && srLabels.content.querySelector('[data-key="' + change.tone + '"]');
      if (words) li.appendChild(el("span", "visually-hidden", words.textContent));
      return li;
    }

    function showStored(tile) {
      tile.querySelector("[data-role=value]").textContent = tile.getAttribute("data-display");
      tile.classList.remove("is-whatif");
      var badge = tile.querySelector(".tile-whatif-badge");
      if (badge) badge.hidden = true;
      Array.prototype.forEach.call(tile.querySelectorAll(".change-whatif"), function (li) { li.remove(); });
      Array.prototype.forEach.call(tile.querySelectorAll("[data-role=changes] > li, [data-role=note]"),
        function (node) { node.hidden = false; });
    }

    function showWhatif(tile, figure) {
      tile.querySelector("[data-role=value]").textContent = figure.display;
      tile.classList.add("is-whatif");
      var badge = tile.querySelector(".tile-whatif-badge");
      if (badge) badge.hidden = false;
      // The stored month-on-month changes and notes are about the stored figure: hidden here.
      Array.prototype.forEach.call(tile.querySelectorAll("[data-role=changes] > li, [data-role=note]"),
        function (node) { node.hidden = true; });
      Array.prototype.forEach.call(tile.querySelectorAll(".change-whatif"), function (li) { li.remove(); });
      tile.querySelector("[data-role=changes]").appendChild(changeItem(figure.change));
    }

    function allTiles() { return Array.prototype.slice.call(document.querySelectorAll(".tile[data-metric]")); }

    function reset() {
      fields.forEach(function (field) { setField(field, shownStored(field)); });
      allTiles().forEach(showStored);
      fitTiles();
      status.textContent = "";
      status.classList.remove("error");
      request();
    }

    function params() {
      var query = new URLSearchParams();
      query.set("month", board.getAttribute("data-month"));
      query.set("scope", board.getAttribute("data-scope"));
      fields.forEach(function (field) {
        query.set(field.param, atStored(field) ? String(field.stored * field.scale) : field.number.value.trim());
      });
      return query;
    }

    function request() {
      var mine = ++sequence;
      var stored = fields.every(atStored);
      var url = board.getAttribute("data-whatif-url") + "?" + params().toString();
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
        .then(function (res) {
          if (mine !== sequence) return;
          if (!res.ok) {
            // No figures for an input that is not valid: the stored ones, and what to fix.
            allTiles().forEach(showStored);
            fitTiles();
            status.textContent = res.body.error || "";
            status.classList.add("error");
            board.setAttribute("data-whatif-state", "error");
            return;
          }
          status.textContent = "";
          status.classList.remove("error");
          allTiles().forEach(function (tile) {
            var figure = res.body.tiles[tile.getAttribute("data-metric")];
            if (stored || !figure) showStored(tile); else showWhatif(tile, figure);
          });
          fitTiles();
          var tornado = document.getElementById("chart-tornado");
          if (tornado && window.Plotly && res.body.tornado) {
            var fig = JSON.parse(res.body.tornado);
            figures.tornado = fig;
            draw(tornado, fig);
          }
          board.setAttribute("data-whatif-state", stored ? "stored" : "changed");
        })
        .catch(function () { if (mine === sequence) status.textContent = "…"; });
    }

    fields.forEach(function (field) {
      function changed(source) {
        var other = source === field.number ? field.range : field.number;
        other.value = source.value;
        clearTimeout(timer);
        timer = setTimeout(request, 200);
      }
      field.number.addEventListener("input", function () { changed(field.number); });
      field.range.addEventListener("input", function () { changed(field.range); });
    });
    document.getElementById("whatif-reset").addEventListener("click", reset);
    // Start from the stored figures without a request: the server already drew the tornado.
    fields.forEach(function (field) {
      // The sliders' ranges keep the stored value well inside them.
      if (field.name === "margin") {
        field.range.min = Math.min(0, Math.floor(field.stored * 2));
        field.range.max = Math.max(10, Math.ceil(Math.abs(field.stored) * 2));
      } else if (field.name === "retention") {
        field.range.min = Math.max(0, Math.min(50, Math.floor(field.stored * 100 - 10)));
      } else if (field.name === "discount") {
        field.range.max = Math.max(30, Math.ceil(field.stored * 100 + 10));
      }
      setField(field, shownStored(field));
    });
    board.setAttribute("data-whatif-state", "stored");
  }

  // 4. "How was this computed?" ----------------------------------------------------------------
  var explain = readJson("board-explain");
  var dialog = document.getElementById("explain-dialog");
  function label(key) {
    var tpl = document.getElementById("explain-labels");
    var el = tpl && tpl.content.querySelector('[data-key="' + key + '"]');
    return el ? el.textContent : key;
  }
  var locale = document.documentElement.lang || "en";
  function fmt(value) {
    // Numbers as a reader expects them: amounts with cents, rates with six decimals at most.
    if (typeof value !== "number" || !isFinite(value)) return value;
    var digits = Number.isInteger(value) ? 0 : (Math.abs(value) >= 100 ? 2 : 6);
    try {
      // The display minus (U+2212), as every figure the server formats.
      return value.toLocaleString(locale, { maximumFractionDigits: digits, minimumFractionDigits: Math.min(digits, 2) })
        .replace(/^-/, "\u2212");
    } catch (e) { return String(value); }
  }
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function cell(tag, cls, content) {
    var node = el(tag, cls);
    if (content && content.nodeType) node.appendChild(content);
    else if (content !== undefined && content !== null) node.textContent = String(content);
    return node;
  }
  function table(rows, columns) {
    var t = el("table", "explain-table");
    var head = el("tr");
    columns.forEach(function (c) { head.appendChild(el("th", null, c.title)); });
    var thead = el("thead"); thead.appendChild(head); t.appendChild(thead);
    var tbody = el("tbody");
    rows.forEach(function (row) {
      var tr = el("tr", row.__highlight ? "highlight" : null);
      if (row.__metric) tr.setAttribute("data-metric", row.__metric);
      columns.forEach(function (c) { tr.appendChild(cell("td", c.cls || null, row[c.key])); });
      tbody.appendChild(tr);
    });
    t.appendChild(tbody);
    return t;
  }
  // One line of a step: its text, each number in a span that never wraps inside the number.
  function lineNode(line) {
    var p = el("p", "explain-line explain-" + line.kind);
    p.setAttribute("data-kind", line.kind);
    line.parts.forEach(function (part) {
      if (part.num) p.appendChild(el("span", "explain-num", part.text));
      else p.appendChild(document.createTextNode(part.text));
    });
    return p;
  }
  function linesNode(step) {
    var box = el("div", "explain-lines");
    (step.lines || []).forEach(function (line) { box.appendChild(lineNode(line)); });
    return box;
  }
  function openExplain(metric) {
    var body = document.getElementById("explain-body");
    var missing = document.getElementById("explain-missing");
    body.textContent = "";
    if (!explain || !explain.steps) { missing.hidden = false; dialog.showModal(); return; }
    missing.hidden = true;
    // The tile's own step first.
    explain.steps.filter(function (s) { return s.metric === metric; }).forEach(function (step) {
      var box = el("div", "explain-this");
      box.setAttribute("data-metric", step.metric);
      box.appendChild(el("h3", null, label("this") + ": " + step.label));
      box.appendChild(linesNode(step));
      var value = el("p", "explain-value", label("value") + ": ");
      value.appendChild(el("span", "explain-num", step.display));
      box.appendChild(value);
      body.appendChild(box);
    });
    body.appendChild(el("h3", null, label("steps")));
    body.appendChild(table(explain.steps.map(function (s) {
      return { label: s.label, lines: linesNode(s), value: cell("span", "explain-num", s.display),
               __highlight: s.metric === metric, __metric: s.metric };
    }), [{ key: "label", title: "" }, { key: "lines", title: label("formula") },
         { key: "value", title: label("value"), cls: "num" }]));
    if (explain.inputs && explain.inputs.length) {
      body.appendChild(el("h3", null, label("inputs")));
      body.appendChild(table(explain.inputs.map(function (i) {
        return { label: i.label, value: cell("span", "explain-num", fmt(i.value)), __highlight: i.name === metric };
      }), [{ key: "label", title: "" }, { key: "value", title: label("value"), cls: "num" }]));
    }
    if (explain.assumptions && explain.assumptions.length) {
      body.appendChild(el("h3", null, label("assumptions")));
      body.appendChild(table(explain.assumptions.map(function (a) {
        return { label: a.label, value: cell("span", "explain-num", fmt(a.value)) };
      }), [{ key: "label", title: "" }, { key: "value", title: label("value"), cls: "num" }]));
    }
    dialog.setAttribute("data-metric", metric);
    dialog.showModal();
  }
  Array.prototype.forEach.call(document.querySelectorAll(".js-explain"), function (button) {
    button.addEventListener("click", function () { openExplain(button.getAttribute("data-metric")); });
  });

  // 5. A recompute in progress: show its progress, reload when it is done ---------------------
  var banner = document.getElementById("recompute-banner");
  if (banner && window.clvPoll) {
    window.clvPoll(board.getAttribute("data-status-url"), function (data) {
      var bar = document.getElementById("recompute-bar");
      if (bar) bar.style.width = data.percent + "%";
      var text = document.getElementById("recompute-text");
      if (text && data.scopes_total) text.textContent = data.scopes_done + " / " + data.scopes_total;
      if (data.done) { window.location.reload(); return false; }
      return true;
    }, 2000);
  }
})();
