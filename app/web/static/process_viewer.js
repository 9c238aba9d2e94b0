// Shows a process with bpmn-js (vendored, see scripts/vendor_docs_assets.sh) in every
// [data-bpmn-xml] box, with a case's progress marked. If the viewer cannot load or draw, the
// box keeps the server-drawn SVG it holds.
(function () {
  "use strict";
  var MARKERS = { done: "step-done", current: "step-current", notice: "step-notice" };
  function ids(box, name) {
    try { return JSON.parse(box.getAttribute("data-" + name) || "[]"); } catch (e) { return []; }
  }
  document.querySelectorAll("[data-bpmn-xml]").forEach(function (box) {
    if (!window.BpmnJS) { return; }
    var viewer = new window.BpmnJS({ container: box.querySelector(".viewer-canvas") });
    viewer.importXML(box.getAttribute("data-bpmn-xml")).then(function () {
      var canvas = viewer.get("canvas"), registry = viewer.get("elementRegistry");
      // A file without BPMN DI imports as an empty canvas: the laid-out SVG says more.
      if (!registry.filter(function (e) { return /Task|Event|Gateway/.test(e.type); }).length) {
        throw new Error("no diagram (BPMN DI) in this file");
      }
      box.classList.add("viewer-ready");  // shows the canvas: it has a width to fit into now
      canvas.resized();
      // As tall as the diagram needs at the box's width (processes are wide), within bounds.
      var inner = canvas.viewbox().inner, holder = box.querySelector(".viewer-canvas");
      var height = holder.clientWidth * inner.height / Math.max(inner.width, 1) + 40;
      holder.style.height = Math.round(Math.min(Math.max(height, 240), 560)) + "px";
      canvas.resized();
      canvas.zoom("fit-viewport", "auto");
      Object.keys(MARKERS).forEach(function (name) {
        ids(box, name).forEach(function (id) {
          if (registry.get(id)) { canvas.addMarker(id, MARKERS[name]); }
        });
      });
    }).catch(function (error) {
      box.setAttribute("data-viewer-error", String(error && error.message || error));
    });
  });
})();
