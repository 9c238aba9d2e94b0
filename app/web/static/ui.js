// Small progressive enhancements; every page works without them.
(function () {
  "use strict";
  // No double submission: a form, once sent, disables its buttons until the next page arrives.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.dataset.sent === "1") { event.preventDefault(); return; }
    form.dataset.sent = "1";
    window.setTimeout(function () {
      form.querySelectorAll("button, input[type=submit]").forEach(function (b) {
        b.disabled = true; b.setAttribute("aria-disabled", "true");
      });
    }, 0);  // after the submitter's name/value has been taken into the request
  });
  // The page may come back from the back/forward cache: make its forms usable again.
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form[data-sent]").forEach(function (form) {
      delete form.dataset.sent;
      form.querySelectorAll("button, input[type=submit]").forEach(function (b) { b.disabled = false; });
    });
  });
  // On a phone the inbox starts with its rows: filters fold away unless one is in use.
  var filters = document.getElementById("filters");
  if (filters && window.matchMedia("(max-width: 719px)").matches &&
      !/(program|division_code|overdue)=./.test(window.location.search)) {
    filters.open = false;
  }
  // 全选: tick every checkbox of the given name.
  document.querySelectorAll("[data-check-all]").forEach(function (box) {
    box.addEventListener("change", function () {
      document.querySelectorAll("input[type=checkbox][name='" + box.dataset.checkAll + "']").forEach(function (c) {
        c.checked = box.checked;
      });
    });
  });
  // 增加一行: copy the last row of a list of items (e.g. panel votes) with empty fields.
  document.querySelectorAll("[data-add-row]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      var name = button.dataset.addRow, body = document.getElementById("rows-" + name);
      var count = document.querySelector("input[name='" + name + ".count']");
      var last = body.lastElementChild, index = parseInt(count.value, 10);
      var row = last.cloneNode(true);
      row.querySelectorAll("input, select, textarea").forEach(function (el) {
        el.name = el.name.replace(/\.\d+\./, "." + index + ".");
        el.id = el.id.replace(/-\d+-/, "-" + index + "-");
        if (el.type === "radio" || el.type === "checkbox") { el.checked = false; } else { el.value = ""; }
      });
      row.querySelectorAll("label[for]").forEach(function (l) { l.htmlFor = l.htmlFor.replace(/-\d+-/, "-" + index + "-"); });
      row.querySelectorAll(".field-error").forEach(function (e) { e.remove(); });
      body.appendChild(row);
      count.value = String(index + 1);
    });
  });
  // The people picker's filter: show the options whose name, place or office contain the text.
  document.querySelectorAll("input.picker-filter").forEach(function (input) {
    var select = document.getElementById(input.dataset.filterFor);
    if (!select) { return; }
    input.hidden = false;
    input.addEventListener("input", function () {
      var text = input.value.trim().toLowerCase();
      select.querySelectorAll("optgroup").forEach(function (group) {
        var shown = 0;
        group.querySelectorAll("option").forEach(function (option) {
          var match = !text || (option.dataset.search || option.textContent).toLowerCase().indexOf(text) >= 0;
          option.hidden = !match;
          if (match) { shown += 1; }
        });
        group.hidden = shown === 0;
      });
    });
  });
})();
