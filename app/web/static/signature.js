// 签字 on the task page: draw with a finger, a pen or a mouse on the canvas; the form sends the
// drawing as a PNG (data: URL in the hidden "image" field). Nothing drawn: nothing is sent.
(function () {
  "use strict";
  document.querySelectorAll("form[data-signature-form]").forEach(function (form) {
    var canvas = form.querySelector("canvas[data-signature-pad]");
    var image = form.querySelector("input[name=image]");
    var hint = form.querySelector("[data-signature-hint]");
    var ctx = canvas.getContext("2d");
    var drawn = false, last = null;
    ctx.lineWidth = 3; ctx.lineCap = "round"; ctx.lineJoin = "round"; ctx.strokeStyle = "#111";

    // The canvas keeps 600×200 pixels however wide it is shown (360 px phones scale it down).
    function point(event) {
      var box = canvas.getBoundingClientRect();
      return {
        x: (event.clientX - box.left) * canvas.width / box.width,
        y: (event.clientY - box.top) * canvas.height / box.height
      };
    }
    canvas.addEventListener("pointerdown", function (event) {
      event.preventDefault();
      canvas.setPointerCapture(event.pointerId);
      last = point(event);
      ctx.beginPath(); ctx.arc(last.x, last.y, 1.2, 0, 2 * Math.PI); ctx.fill();
      drawn = true;
    });
    canvas.addEventListener("pointermove", function (event) {
      if (!last) { return; }
      var next = point(event);
      ctx.beginPath(); ctx.moveTo(last.x, last.y); ctx.lineTo(next.x, next.y); ctx.stroke();
      last = next;
    });
    ["pointerup", "pointercancel", "pointerleave"].forEach(function (type) {
      canvas.addEventListener(type, function () { last = null; });
    });
    form.querySelector("[data-signature-clear]").addEventListener("click", function () {
      ctx.clearRect(0, 0, canvas.width, canvas.height);
      drawn = false;
    });
    form.addEventListener("submit", function (event) {
      if (!drawn) {
        event.preventDefault();
        event.stopPropagation();  // not "sent": the page's double-submission guard stays off
        hint.textContent = "签名框是空的，请签字后再保存。";
        hint.classList.add("error");
        return;
      }
      image.value = canvas.toDataURL("image/png");
    });
  });
}());
