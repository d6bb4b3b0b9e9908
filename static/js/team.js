/* The supervisor's team screen (templates/inbox/team/board.html).
 *
 * The board re-fetches itself when presence or a ticket changes (htmx, omnico:team and
 * omnico:ticket from live.js). A refresh must not throw away a form the supervisor is filling
 * in: while focus is inside one of the board's forms the swap waits, and happens once focus
 * leaves the board.
 */
(function () {
  "use strict";

  var pending = false;

  function board() { return document.getElementById("team-board"); }

  function editing(el) {
    var active = document.activeElement;
    return !!(el && active && el.contains(active) && active.closest("form"));
  }

  document.addEventListener("htmx:beforeSwap", function (event) {
    var el = board();
    if (!el || event.detail.target !== el) { return; }
    if (editing(el)) {
      event.detail.shouldSwap = false;
      pending = true;
    }
  });

  document.addEventListener("focusout", function () {
    window.setTimeout(function () {
      var el = board();
      if (pending && el && !editing(el)) {
        pending = false;
        window.htmx.trigger(el, "resync");
      }
    }, 0);
  });
})();
