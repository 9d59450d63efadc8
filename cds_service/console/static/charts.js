/* Draws the console's charts from the page's JSON data block (no inline script: the CSP forbids it). */
(function () {
  "use strict";
  var node = document.getElementById("chart-data");
  if (!node || typeof Chart === "undefined") {
    return;
  }
  var data = JSON.parse(node.textContent);
  // Okabe-Ito: distinguishable with the common colour-vision deficiencies.
  var palette = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"];
  Chart.defaults.font.size = 14;
  Chart.defaults.font.family = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Noto Sans', sans-serif";
  Chart.defaults.color = "#1f2933";

  function shorten(text) {
    return text.length > 44 ? text.slice(0, 42) + "\u2026" : text;
  }

  var trend = document.getElementById("trend-chart");
  if (trend && data.trend.length) {
    new Chart(trend, {
      type: "line",
      data: {
        labels: data.weeks,
        datasets: data.trend.map(function (series, i) {
          var colour = palette[i % palette.length];
          return {label: series.label, data: series.rates, borderColor: colour,
                  backgroundColor: colour, spanGaps: true, pointRadius: 4, tension: 0, clip: false};
        })
      },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        layout: {padding: {top: 8, right: 8}},
        scales: {
          y: {min: 0, max: 100, title: {display: true, text: "override rate (%)"}},
          x: {title: {display: true, text: "week (Monday, UTC)"}}
        },
        plugins: {legend: {position: "bottom"}}
      }
    });
    trend.dataset.points = String(data.trend.reduce(function (n, s) {
      return n + s.rates.filter(function (r) { return r !== null; }).length;
    }, 0));
  }

  document.querySelectorAll("canvas[data-reasons]").forEach(function (canvas) {
    var reasons = data.reasons[canvas.dataset.reasons];
    if (!reasons) {
      return;
    }
    new Chart(canvas, {
      type: "bar",
      data: {
        labels: reasons.labels.map(shorten),
        datasets: [{label: "overridden cards", data: reasons.cards, backgroundColor: palette[0],
                    maxBarThickness: 36}]
      },
      options: {
        indexAxis: "y", responsive: true, maintainAspectRatio: false, animation: false,
        plugins: {
          legend: {display: false},
          tooltip: {callbacks: {title: function (items) { return reasons.labels[items[0].dataIndex]; }}}
        },
        scales: {x: {beginAtZero: true, ticks: {precision: 0}, title: {display: true, text: "cards"}}}
      }
    });
    canvas.dataset.points = String(reasons.cards.length);
  });
}());
