window.addEventListener("load", function () {
  var charts = document.querySelectorAll("svg.chart"), drawn = 0;
  charts.forEach(function (svg) {
    var box = svg.getBBox(), rect = svg.getBoundingClientRect();
    var ok = box.width > 0 && box.height > 0 && rect.width > 0 && rect.height > 0;
    svg.setAttribute("data-size", Math.round(rect.width) + "x" + Math.round(rect.height));
    if (ok) { drawn += 1; }
  });
  document.body.setAttribute("data-charts", String(charts.length));
  document.body.setAttribute("data-charts-drawn", String(drawn));
  document.body.setAttribute("data-drawn", drawn === charts.length && charts.length > 0 ? "yes" : "no");
});
