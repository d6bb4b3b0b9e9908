/* Omnico agent screens: small progressive enhancements. Everything works without it. */
(function () {
  "use strict";

  var SUCCESS_MS = 4000;
  var ERROR_MS = 10000;

  function dismiss(toast) {
    toast.classList.add("is-leaving");
    window.setTimeout(function () { toast.remove(); }, 250);
  }

  function armToasts(root) {
    (root || document).querySelectorAll(".toast:not([data-armed])").forEach(function (toast) {
      toast.setAttribute("data-armed", "1");
      var ms = toast.classList.contains("toast-error") ? ERROR_MS : SUCCESS_MS;
      window.setTimeout(function () { dismiss(toast); }, ms);
    });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-dismiss]");
    if (button) { dismiss(button.closest(".toast")); }
  });

  // The language <select> submits its form when changed.
  document.addEventListener("change", function (event) {
    if (event.target.matches("select[data-autosubmit]")) { event.target.form.submit(); }
  });

  document.addEventListener("DOMContentLoaded", function () { armToasts(document); });
  document.addEventListener("htmx:afterSettle", function () { armToasts(document); });
  document.addEventListener("htmx:oobAfterSwap", function () { armToasts(document); });
  // A failed htmx request (500, network) still tells the agent something went wrong.
  document.addEventListener("htmx:responseError", function () {
    var box = document.getElementById("toasts");
    if (!box) { return; }
    var toast = document.createElement("div");
    toast.className = "toast toast-error";
    toast.setAttribute("role", "alert");
    // The words come from Django's translations (templates/base.html, #ui-labels).
    var labels = document.getElementById("ui-labels");
    toast.textContent = labels ? labels.dataset.requestFailed : "";
    box.appendChild(toast);
    armToasts(box);
  });
})();
