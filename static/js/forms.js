// A form that posts is sent once: its buttons are disabled while it is on its way (the
// server's one-time form key covers a browser without this script). htmx forms get their
// buttons back when the answer has arrived; a page restored from the back-forward cache
// gets them back too.
(function () {
  "use strict";
  function buttons(form) {
    return Array.prototype.filter.call(form.elements, function (el) {
      return el.type === "submit";
    });
  }
  function hold(form) {
    form.dataset.sending = "true";
    // After this turn of the event loop, so the pressed button's value is still sent.
    window.setTimeout(function () {
      buttons(form).forEach(function (button) {
        button.disabled = true;
        button.setAttribute("aria-busy", "true");
      });
    }, 0);
  }
  function release(form) {
    delete form.dataset.sending;
    buttons(form).forEach(function (button) {
      button.disabled = false;
      button.removeAttribute("aria-busy");
    });
  }
  document.addEventListener(
    "submit",
    function (event) {
      var form = event.target;
      if (!(form instanceof HTMLFormElement) || form.method.toLowerCase() !== "post") return;
      if (form.dataset.sending) {
        event.preventDefault();
        event.stopImmediatePropagation();
        return;
      }
      hold(form);
    },
    true
  );
  document.addEventListener("htmx:afterRequest", function (event) {
    var element = event.detail && event.detail.elt;
    var form = element && (element.tagName === "FORM" ? element : element.closest("form"));
    if (form) release(form);
  });
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) document.querySelectorAll("form[data-sending]").forEach(release);
  });
})();
