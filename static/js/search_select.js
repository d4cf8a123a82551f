// Search fields (core.widgets.SearchSelect): htmx fills the listbox as the person types;
// this script makes it a combobox. Arrow keys move through the options, Enter or a click
// picks one (its id goes into the hidden field, its name into the text field), Escape
// closes the list. Typing again forgets the earlier choice, so what is sent is either a
// picked id or the text, which the server matches itself (as it does with no script).
// A field of several (core.widgets.SearchSelectMultiple) keeps its choices as ticked
// checkboxes: a pick adds one (or ticks it again) and empties the text for the next name.
(function () {
  "use strict";
  function parts(element) {
    var box = element.closest("[data-search-select]");
    if (!box) return null;
    return {
      box: box,
      input: box.querySelector("[role=combobox]"),
      value: box.querySelector("[data-search-value]"),
      chosen: box.querySelector("[data-search-chosen]"),
      list: box.querySelector("[role=listbox]"),
      status: box.querySelector("[role=status]"),
    };
  }
  function options(p) {
    return Array.prototype.slice.call(p.list.querySelectorAll("[role=option]:not([aria-disabled])"));
  }
  function open(p) {
    var count = options(p).length;
    p.list.hidden = !p.list.children.length;
    p.input.setAttribute("aria-expanded", p.list.hidden ? "false" : "true");
    p.status.textContent = count ? count + (count === 1 ? " match" : " matches") : "No matches";
  }
  function close(p) {
    // Opened again, the list starts from its first option.
    activate(p, null);
    p.list.hidden = true;
    p.input.setAttribute("aria-expanded", "false");
    p.input.removeAttribute("aria-activedescendant");
  }
  function activate(p, option) {
    options(p).forEach(function (o) {
      o.setAttribute("aria-selected", o === option ? "true" : "false");
    });
    if (option) {
      p.input.setAttribute("aria-activedescendant", option.id);
      option.scrollIntoView({ block: "nearest" });
    }
  }
  function add(p, option) {
    var label = option.querySelector(".search-select-label").textContent;
    var boxes = p.chosen.querySelectorAll("input[type=checkbox]");
    for (var i = 0; i < boxes.length; i++) {
      if (boxes[i].value === option.dataset.value) {
        boxes[i].checked = true;
        return label;
      }
    }
    var item = document.createElement("li");
    var wrap = document.createElement("label");
    var box = document.createElement("input");
    box.type = "checkbox";
    box.name = p.box.dataset.searchMultiple;
    box.value = option.dataset.value;
    box.checked = true;
    wrap.appendChild(box);
    wrap.appendChild(document.createTextNode(" " + label));
    item.appendChild(wrap);
    p.chosen.appendChild(item);
    p.chosen.hidden = false;
    return label;
  }
  function pick(p, option) {
    if (p.chosen) {
      var label = add(p, option);
      p.input.value = "";
      close(p);
      p.status.textContent = label + " added";
      return;
    }
    p.value.value = option.dataset.value;
    p.input.value = option.querySelector(".search-select-label").textContent;
    close(p);
    // A list's filter applies at once, as its selects do.
    if (p.input.hasAttribute("data-submit-on-pick") && p.input.form) p.input.form.requestSubmit();
  }
  document.addEventListener("htmx:afterSwap", function (event) {
    var p = parts(event.target);
    if (p && event.target === p.list) {
      if (document.activeElement === p.input) open(p);
      else close(p);
    }
  });
  document.addEventListener("input", function (event) {
    var p = event.target.matches && event.target.matches("[data-search-select] [role=combobox]") && parts(event.target);
    if (p && p.value) p.value.value = "";
  });
  document.addEventListener("keydown", function (event) {
    var p = event.target.matches && event.target.matches("[data-search-select] [role=combobox]") && parts(event.target);
    if (!p) return;
    var all = options(p);
    var current = p.list.querySelector("[aria-selected=true]");
    var index = all.indexOf(current);
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      if (p.list.hidden && p.list.children.length) open(p);
      if (!all.length) return;
      event.preventDefault();
      var step = event.key === "ArrowDown" ? 1 : -1;
      activate(p, all[(index + step + all.length) % all.length]);
    } else if (event.key === "Enter" && !p.list.hidden && current) {
      event.preventDefault();
      pick(p, current);
    } else if (event.key === "Escape" && !p.list.hidden) {
      event.preventDefault();
      close(p);
    }
  });
  document.addEventListener("mousedown", function (event) {
    var option = event.target.closest && event.target.closest("[data-search-select] [role=option]:not([aria-disabled])");
    if (!option) return;
    event.preventDefault(); // keep the focus in the text field
    pick(parts(option), option);
  });
  document.addEventListener("focusout", function (event) {
    var p = event.target.matches && event.target.matches("[data-search-select] [role=combobox]") && parts(event.target);
    if (p) close(p);
  });
})();
