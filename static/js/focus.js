// Keyboard focus stays where the person was working. When htmx replaces the part of the page
// that held the focused button (the queue's Start timer, Take, the pool's refresh), or a form
// posts and the server sends the same page back, focus goes to that button again or to the
// one that took its place (Start timer becomes Stop), not to the top of the page.
//
// Markup can help: data-focus-key names a pair of controls that replace each other
// ("timer" on Start timer and Stop), and [data-task] rows say which task a control acts on.
(function () {
  "use strict";
  var STORE = "va-focus-after-post";
  var CONTROLS = "button, a[href], input:not([type=hidden]), select, textarea, summary";
  var remembered = null;

  function describe(control) {
    if (!control || control === document.body || !control.closest) return null;
    var row = control.closest("[data-task]");
    return {
      id: control.id || "",
      key: control.getAttribute("data-focus-key") || "",
      row: row ? row.getAttribute("data-task") : "",
    };
  }

  function usable(element) {
    return element && !element.disabled && element.getClientRects().length > 0;
  }

  function find(memory) {
    var found = memory.id && document.getElementById(memory.id);
    if (usable(found)) return found;
    var rows = memory.row
      ? document.querySelectorAll('[data-task="' + CSS.escape(memory.row) + '"]')
      : [];
    var i, candidates;
    for (i = 0; i < rows.length; i++) {
      if (memory.key) {
        found = rows[i].querySelector('[data-focus-key="' + CSS.escape(memory.key) + '"]');
        if (usable(found)) return found;
      }
    }
    if (memory.key) {
      candidates = document.querySelectorAll('[data-focus-key="' + CSS.escape(memory.key) + '"]');
      for (i = 0; i < candidates.length; i++) if (usable(candidates[i])) return candidates[i];
    }
    // The row's own action (a button) before the links and fields in it.
    for (var pass = 0; pass < 2; pass++) {
      for (i = 0; i < rows.length; i++) {
        candidates = rows[i].querySelectorAll(pass ? CONTROLS : "button");
        for (var j = 0; j < candidates.length; j++) if (usable(candidates[j])) return candidates[j];
      }
    }
    return null;
  }

  function focusLost() {
    var active = document.activeElement;
    return !active || active === document.body || active.disabled || !active.isConnected;
  }

  function land(element) {
    if (!element.matches(CONTROLS) && !element.hasAttribute("tabindex")) {
      element.setAttribute("tabindex", "-1");
    }
    element.focus();
  }

  // -- htmx: remember the focused control before the request, put focus back after the swap.
  document.addEventListener("htmx:beforeRequest", function () {
    remembered = describe(document.activeElement);
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    if (!remembered || !focusLost()) return;
    var target = find(remembered);
    var swapped = event.detail && event.detail.target;
    if (!target && swapped && swapped.isConnected) target = swapped;
    if (target) {
      land(target);
      remembered = null;
    }
  });

  // -- a form posted without htmx: the server answers with a page; when it is the page the
  // form was on, focus goes back to the button that sent it, or its replacement.
  document.addEventListener(
    "submit",
    function (event) {
      var form = event.target;
      if (!(form instanceof HTMLFormElement) || form.method.toLowerCase() !== "post") return;
      if (form.matches("[hx-post], [data-hx-post]")) return;
      var memory = describe(event.submitter || document.activeElement);
      if (!memory) return;
      memory.path = window.location.pathname;
      memory.at = Date.now();
      try {
        window.sessionStorage.setItem(STORE, JSON.stringify(memory));
      } catch (error) {
        // Private windows may refuse storage: focus then simply starts at the top.
      }
    },
    true
  );
  // -- a table wider than the window scrolls in its own box; a box that scrolls takes the
  // focus, so the arrow keys can scroll it too (tables without links would otherwise be
  // out of a keyboard's reach).
  var SCROLL_BOXES = ".table, .table-scroll, .client-manual table, pre";
  function reachScrollBoxes() {
    document.querySelectorAll(SCROLL_BOXES).forEach(function (box) {
      var scrolls = box.scrollWidth > box.clientWidth + 1;
      if (scrolls && !box.hasAttribute("tabindex")) {
        box.setAttribute("tabindex", "0");
        box.setAttribute("data-scroll-focus", "");
      } else if (!scrolls && box.hasAttribute("data-scroll-focus")) {
        box.removeAttribute("tabindex");
        box.removeAttribute("data-scroll-focus");
      }
    });
  }
  var resizing = false;
  window.addEventListener("resize", function () {
    if (resizing) return;
    resizing = true;
    window.requestAnimationFrame(function () {
      resizing = false;
      reachScrollBoxes();
    });
  });
  document.addEventListener("htmx:load", reachScrollBoxes);
  reachScrollBoxes();

  var stored = null;
  try {
    stored = JSON.parse(window.sessionStorage.getItem(STORE) || "null");
    window.sessionStorage.removeItem(STORE);
  } catch (error) {
    stored = null;
  }
  if (stored && stored.path === window.location.pathname && Date.now() - stored.at < 60000) {
    var target = find(stored);
    if (target) land(target);
  }
})();
