// Rows of a Django formset added and removed in the page: "Add a field" copies the empty
// row kept in a <template> (its __prefix__ becoming the next number) instead of sending the
// form back to the server for one more row, which is what happens without this script; a
// row's Remove box becomes a button that hides the row and ticks the box, so the server
// drops it on save exactly as it would without the script.
(function () {
  "use strict";

  function setUp(table) {
    var prefix = table.dataset.formset;
    var form = table.closest("form");
    var body = table.querySelector("[data-formset-rows]");
    var empty = form.querySelector("template[data-formset-empty]");
    var add = form.querySelector("[data-formset-add]");
    var total = form.querySelector("[name='" + prefix + "-TOTAL_FORMS']");
    var max = form.querySelector("[name='" + prefix + "-MAX_NUM_FORMS']");
    if (!body || !empty || !add || !total) return;

    function refresh() {
      var limit = max ? parseInt(max.value, 10) : Infinity;
      add.disabled = parseInt(total.value, 10) >= limit;
    }
    function makeRemovable(row) {
      var box = row.querySelector("input[type=checkbox][name$='-DELETE']");
      if (!box || row.querySelector("[data-formset-remove]")) return;
      var button = document.createElement("button");
      button.type = "button";
      button.className = "link danger";
      button.textContent = "Remove";
      button.setAttribute("data-formset-remove", "");
      var label = row.querySelector("input[name$='-label']");
      function name() {
        var text = label && label.value.trim();
        button.setAttribute("aria-label", text ? "Remove " + text : "Remove this field");
      }
      name();
      if (label) label.addEventListener("input", name);
      button.addEventListener("click", function () {
        box.checked = true;
        row.hidden = true;
        var next = body.querySelector("[data-formset-row]:not([hidden]) input[name$='-label']");
        if (next) next.focus();
        else add.focus();
      });
      box.hidden = true;
      var boxLabel = row.querySelector("label[for='" + box.id + "']");
      if (boxLabel) boxLabel.hidden = true;
      box.parentNode.appendChild(button);
    }

    Array.prototype.forEach.call(body.querySelectorAll("[data-formset-row]"), function (row) {
      if (row.querySelector("input[name$='-DELETE']:checked")) row.hidden = true;
      makeRemovable(row);
    });

    add.addEventListener("click", function (event) {
      event.preventDefault();
      var index = parseInt(total.value, 10);
      var limit = max ? parseInt(max.value, 10) : Infinity;
      if (index >= limit) return;
      var html = empty.innerHTML.replace(/__prefix__/g, String(index));
      var holder = document.createElement("tbody");
      holder.innerHTML = html.trim();
      var row = holder.querySelector("[data-formset-row]");
      body.appendChild(row);
      total.value = String(index + 1);
      makeRemovable(row);
      refresh();
      var first = row.querySelector("input[name$='-label']");
      if (first) first.focus();
    });
    refresh();
    table.dataset.formsetReady = "true";
  }

  function start() {
    Array.prototype.forEach.call(document.querySelectorAll("table[data-formset]"), setUp);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
