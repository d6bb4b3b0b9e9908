/* The inbox list and the tickets list: small enhancements; both work without it. */
(function () {
  "use strict";

  // Mark the row of the ticket that is open (rows are the same for every agent, so the
  // server cannot): the path /inbox/<id>/ names it.
  function markOpen() {
    var match = window.location.pathname.match(/\/inbox\/(\d+)\//);
    var open = match ? match[1] : null;
    document.querySelectorAll("#inbox-list .ticket-row").forEach(function (row) {
      if (row.dataset.ticket === open) {
        row.classList.add("is-open");
        row.querySelector("a").setAttribute("aria-current", "true");
      } else {
        row.classList.remove("is-open");
        var link = row.querySelector("a");
        if (link) { link.removeAttribute("aria-current"); }
      }
    });
  }

  // Bulk bar: show only the value field of the chosen action; "check all" checks the shown rows.
  function syncBulk() {
    var action = document.querySelector("#bulk-form [name=action]");
    if (!action) { return; }
    document.querySelectorAll("#bulk-form [data-bulk-for]").forEach(function (label) {
      label.hidden = label.dataset.bulkFor !== action.value;
    });
  }

  document.addEventListener("change", function (event) {
    if (event.target.matches("#bulk-form [name=action]")) { syncBulk(); }
    if (event.target.matches("[data-check-all]")) {
      document.querySelectorAll("input[name=ids][form=bulk-form]").forEach(function (box) {
        box.checked = event.target.checked;
      });
    }
  });

  document.addEventListener("DOMContentLoaded", function () { markOpen(); syncBulk(); });
  document.addEventListener("htmx:afterSettle", markOpen);
  document.addEventListener("htmx:oobAfterSwap", markOpen);
  window.addEventListener("popstate", markOpen);
  document.addEventListener("htmx:pushedIntoHistory", markOpen);
})();
