/* The ticket screen: Enter sends a reply (Shift+Enter a new line), running call timers,
   the conversation kept scrolled to the newest message. Everything works without it. */
(function () {
  "use strict";

  // Enter sends, Shift+Enter (or an IME composition) makes a new line.
  document.addEventListener("keydown", function (event) {
    var box = event.target;
    if (!box.matches || !box.matches("textarea[data-reply-body]")) { return; }
    if (event.key !== "Enter" || event.shiftKey || event.altKey || event.ctrlKey ||
        event.metaKey || event.isComposing) { return; }
    event.preventDefault();
    if (box.value.trim() === "") { return; }
    var form = box.form;
    if (form.requestSubmit) { form.requestSubmit(); } else { form.submit(); }
  });

  // Running call timers count up every second from what the server rendered.
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function format(total) {
    var h = Math.floor(total / 3600), m = Math.floor((total % 3600) / 60), s = total % 60;
    return h ? h + ":" + pad(m) + ":" + pad(s) : m + ":" + pad(s);
  }
  function tick() {
    document.querySelectorAll(".call-timer[data-call-running]").forEach(function (el) {
      if (!el.dataset.since) { el.dataset.since = String(Date.now()); }
      var base = parseInt(el.dataset.callSeconds, 10) || 0;
      var extra = Math.floor((Date.now() - parseInt(el.dataset.since, 10)) / 1000);
      el.textContent = format(base + Math.max(0, extra));
    });
  }
  window.setInterval(tick, 1000);

  // Keep the newest message in view when the conversation is (re)loaded or grows.
  function scrollToEnd(root) {
    (root || document).querySelectorAll(".conversation-scroll").forEach(function (box) {
      box.scrollTop = box.scrollHeight;
    });
  }
  document.addEventListener("DOMContentLoaded", function () { scrollToEnd(); });
  document.body && document.body.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail && event.detail.target;
    if (target && target.id && target.id.indexOf("load-earlier-") === 0) { return; }
    if (target && (target.matches(".messages") || target.querySelector(".conversation-scroll"))) {
      scrollToEnd();
    }
  });
  document.addEventListener("htmx:oobAfterSwap", function () { scrollToEnd(); });

  // A sent reply swaps in a fresh reply form (out of band). htmx keeps the focus only on an
  // element with an id, so after Enter it stays in the box but after a click on Send it fell
  // to the page: put it back in the new box, unless the agent has moved on meanwhile.
  document.addEventListener("htmx:afterRequest", function (event) {
    // requestConfig.elt is the form that was sent: the event itself is re-fired on an
    // ancestor (and detail.elt rewritten) because that form is gone from the page by now.
    var sent = event.detail && event.detail.requestConfig && event.detail.requestConfig.elt;
    if (!sent || !sent.matches || !sent.matches("form[data-reply-form]")) { return; }
    var form = document.getElementById(sent.id);
    var box = form && form.querySelector("textarea[data-reply-body]");
    if (!box || box.disabled) { return; }
    var active = document.activeElement;
    if (active && active !== document.body && !form.contains(active) && !sent.contains(active)) { return; }
    box.focus();
  });
})();
