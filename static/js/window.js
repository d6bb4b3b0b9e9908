/* The messaging window of the open ticket (WhatsApp, Messenger): the time left counts down
   from the seconds the server rendered (data-window-seconds, so the agent's clock does not
   matter); at 0 the window and the reply box are fetched again, and the server decides what
   the composer offers (the template picker, the Human Agent tag, nothing). A customer's new
   message fetches them too: it opens the window again. Without JavaScript the page shows the
   state as of its load, and the server refuses what the window no longer allows. */
(function () {
  "use strict";

  function fill(label, seconds) {
    var hours = Math.floor(seconds / 3600), minutes = Math.floor((seconds % 3600) / 60);
    return label.replace("%(hours)s", String(hours)).replace("%(minutes)s", String(minutes));
  }

  function refresh(el) {
    if (!window.htmx || !el.dataset.windowUrl || el.dataset.windowRefreshing) { return; }
    el.dataset.windowRefreshing = "1";
    window.htmx.ajax("GET", el.dataset.windowUrl, { target: "#" + el.id, swap: "outerHTML" });
  }

  function tick() {
    document.querySelectorAll("[data-window][data-window-label]").forEach(function (el) {
      var label = el.dataset.windowLabel;
      var seconds = parseInt(el.dataset.windowSeconds, 10);
      if (!label || isNaN(seconds)) { return; }
      if (!el.dataset.windowEnds) { el.dataset.windowEnds = String(Date.now() + seconds * 1000); }
      var left = Math.max(0, Math.ceil((parseInt(el.dataset.windowEnds, 10) - Date.now()) / 1000));
      var out = el.querySelector("[data-window-countdown]");
      if (out) { out.textContent = fill(label, left); }
      if (left <= 0) { refresh(el); }
    });
  }
  window.setInterval(tick, 1000);

  // A customer's message appended to the open conversation: the window (re)opens.
  var pending = {};
  function customerWrote(ticketId) {
    if (pending[ticketId]) { return; }
    pending[ticketId] = window.setTimeout(function () {
      delete pending[ticketId];
      var el = document.getElementById("window-" + ticketId);
      if (el) { refresh(el); }
    }, 300);
  }
  function watch() {
    new MutationObserver(function (records) {
      records.forEach(function (record) {
        var list = record.target;
        if (!list.id || list.id.indexOf("conversation-") !== 0) { return; }
        Array.prototype.forEach.call(record.addedNodes, function (node) {
          if (node.nodeType === 1 && node.matches("li.msg-in")) {
            customerWrote(list.id.slice("conversation-".length));
          }
        });
      });
    }).observe(document.body, { childList: true, subtree: true });
  }
  if (document.body) { watch(); } else { document.addEventListener("DOMContentLoaded", watch); }
})();
