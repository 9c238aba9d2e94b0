// Draws the reports page's charts with ECharts (vendored, see scripts/vendor_docs_assets.sh) from the
// JSON each chart carries; the table beside a chart holds the same numbers and is what a screen reader
// reads. Without ECharts (or scripts) the tables stand alone.
(function () {
  "use strict";
  var COLORS = ["#0b57d0", "#1a7f37", "#c62828", "#8a4b00", "#6f42c1", "#5b6470"];
  var TEXT = { color: "#1f2328", fontFamily: "PingFang SC, Microsoft YaHei, Noto Sans CJK SC, sans-serif" };

  function trend(data) {
    return {
      color: COLORS, textStyle: TEXT, aria: { enabled: true },
      tooltip: { trigger: "axis" },
      legend: { top: 0, type: "scroll" },
      grid: { left: 8, right: 16, top: 48, bottom: 8, containLabel: true },
      xAxis: { type: "category", data: data.labels, boundaryGap: false },
      yAxis: { type: "value", minInterval: 1 },
      series: data.series.map(function (s) {
        return { name: s.name, type: "line", data: s.data, symbolSize: 6 };
      })
    };
  }

  function bars(data, width) {
    // Horizontal bars, first row at the top, so long place and step names stay readable on a phone.
    var percent = data.unit === "%";
    return {
      color: [percent ? COLORS[1] : COLORS[2]], textStyle: TEXT, aria: { enabled: true },
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      grid: { left: 8, right: 48, top: 8, bottom: 8, containLabel: true },
      xAxis: { type: "value", max: percent ? 100 : null, minInterval: percent ? 0 : 1,
               splitNumber: width < 480 ? 2 : 5,  // on a phone: fewer ticks, none overlapping
               axisLabel: { formatter: "{value}" + (percent ? "%" : "") } },
      yAxis: { type: "category", data: data.labels, inverse: true,
               axisLabel: { width: 96, overflow: "truncate" } },
      series: [{ name: data.name, type: "bar", data: data.data, barMaxWidth: 22,
                 label: { show: true, position: "right", formatter: "{c}" + data.unit } }]
    };
  }

  function grouped(data, width) {
    // One bar per series and row (the steps' median and 90th percentile of working days).
    return {
      color: [COLORS[0], COLORS[3]], textStyle: TEXT, aria: { enabled: true },
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      legend: { top: 0 },
      grid: { left: 8, right: 40, top: 32, bottom: 8, containLabel: true },
      xAxis: { type: "value", name: data.axis, nameLocation: "end", minInterval: 1,
               splitNumber: width < 480 ? 2 : 5 },
      yAxis: { type: "category", data: data.labels, inverse: true,
               axisLabel: { width: 96, overflow: "truncate" } },
      series: data.series.map(function (s) {
        return { name: s.name, type: "bar", data: s.data, barMaxWidth: 14,
                 label: { show: true, position: "right", formatter: "{c}" } };
      })
    };
  }

  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });
  if (!window.echarts) { return; }
  var drawn = [];
  document.querySelectorAll("figure[data-chart]").forEach(function (figure) {
    try {
      var data = JSON.parse(document.getElementById(figure.getAttribute("data-chart")).textContent);
      var canvas = figure.querySelector(".chart-canvas");
      if (data.kind === "bars") {  // one row of bars every 32 px: every label gets its line
        canvas.style.height = Math.max(160, data.labels.length * 32 + 40) + "px";
      } else if (data.kind === "grouped") {  // two bars a row, and the legend above
        canvas.style.height = Math.max(180, data.labels.length * 44 + 64) + "px";
      }
      var chart = window.echarts.init(canvas, null, { renderer: "svg" });
      var draw = { trend: trend, bars: bars, grouped: grouped }[data.kind];
      chart.setOption(draw(data, canvas.clientWidth));
      figure.classList.add("chart-ready");
      drawn.push(chart);
    } catch (error) {
      figure.setAttribute("data-chart-error", String(error && error.message || error));
    }
  });
  window.addEventListener("resize", function () { drawn.forEach(function (c) { c.resize(); }); });
  // Printing lays the page out at A4 width: draw the charts at that width, and back after.
  window.addEventListener("beforeprint", function () { drawn.forEach(function (c) { c.resize(); }); });
  window.addEventListener("afterprint", function () { drawn.forEach(function (c) { c.resize(); }); });
})();
