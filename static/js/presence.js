/* While the agent is not active (on a break, away, offline) the server refuses replies and
 * "Send again" (tickets.presence): the buttons say so and are disabled, on every page. The
 * state comes from the top bar's presence control (#presence[data-working]). */
(function () {
  "use strict";

  function sync() {
    var control = document.getElementById("presence");
    if (!control || !control.hasAttribute("data-working")) return;
    var off = control.getAttribute("data-working") === "false";
    var title = control.getAttribute("data-off-duty-title") || "";
    document.querySelectorAll(".retry-form button[type=submit]").forEach(function (button) {
      if (off) {
        button.disabled = true;
        button.setAttribute("data-off-duty", "");
        button.title = title;
      } else if (button.hasAttribute("data-off-duty")) {
        button.disabled = false;
        button.removeAttribute("data-off-duty");
        button.removeAttribute("title");
      }
    });
  }

  // Pushed messages (live.js) add "Send again" buttons without an htmx request.
  var pending = false;
  function later() {
    if (pending) return;
    pending = true;
    window.requestAnimationFrame(function () { pending = false; sync(); });
  }
  document.addEventListener("DOMContentLoaded", function () {
    sync();
    new MutationObserver(later).observe(document.body, { childList: true, subtree: true });
  });
  document.addEventListener("htmx:afterSettle", sync);
  document.addEventListener("htmx:load", sync);
})();
