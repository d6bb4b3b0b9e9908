/* Omnico support page: the maximum wait. While the visitor's chat waits in the pool, the page
 * asks the server (POST data-offline-wait) whether the page's maximum wait is over; when it is,
 * the server has made the ticket an offline message and answers with the offline form, shown in
 * place of the chat (the conversation so far stays in the ticket). No inline script: CSP. */
(function () {
  "use strict";
  var marker = document.querySelector("[data-offline-wait]");
  if (!marker || !window.fetch) { return; }
  var url = marker.getAttribute("data-offline-wait");
  var tokenInput = document.querySelector("input[name=csrfmiddlewaretoken]");
  var token = tokenInput ? tokenInput.value : "";

  function check() {
    fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": token, "Accept": "application/json" }
    }).then(function (response) {
      return response.ok ? response.json() : { state: "waiting", retry_in: 20 };
    }).then(function (answer) {
      if (answer.state === "offline" && answer.html) {
        var main = document.querySelector(".support-main");
        if (main) { main.innerHTML = answer.html; }
        var first = main && main.querySelector("textarea, input:not([type=hidden])");
        if (first) { first.focus(); }
        return;
      }
      if (answer.state === "waiting") { later(answer.retry_in); }
    }).catch(function () { later(20); });
  }

  function later(seconds) {
    window.setTimeout(check, Math.max(1, Number(seconds) || 20) * 1000);
  }

  later(1);
})();
