// Report charts: each <canvas data-chart="ID"> is drawn from the JSON in <script id="ID">
// (json_script; no inline script). The same numbers are in the table below each chart.
(function () {
  "use strict";

  function draw(canvas) {
    var source = document.getElementById(canvas.dataset.chart);
    if (!source || !window.Chart) return;
    var spec = JSON.parse(source.textContent);
    var line = spec.kind === "line";
    var chart = new window.Chart(canvas, {
      type: line ? "line" : "bar",
      data: {
        labels: spec.labels,
        datasets: spec.datasets.map(function (set) {
          return {
            label: set.label,
            data: set.data,
            backgroundColor: set.color,
            borderColor: set.color,
            borderWidth: line ? 2 : 0,
            pointRadius: line ? 3 : 0,
            spanGaps: true,
          };
        }),
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        responsive: true,
        scales: { y: { beginAtZero: true, title: { display: !!spec.unit, text: spec.unit } } },
        plugins: { legend: { display: spec.datasets.length > 1 } },
      },
    });
    canvas.dataset.drawn = "1";
    return chart;
  }

  function drawAll(root) {
    root.querySelectorAll("canvas[data-chart]:not([data-drawn])").forEach(draw);
  }

  document.addEventListener("DOMContentLoaded", function () { drawAll(document); });
  document.addEventListener("htmx:afterSwap", function (event) { drawAll(event.target); });
})();
