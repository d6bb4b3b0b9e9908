// The support page's chat: send with a client message id (acknowledged once stored), show each
// message's state, receive agents' replies over the visitor socket, and fetch what was missed
// whenever the socket (re)connects. No inline script: the page's CSP is script-src 'self'.
(function () {
  "use strict";
  var root = document.querySelector("[data-support-chat]");
  if (!root) return;
  var list = root.querySelector("[data-entries]");
  var form = root.querySelector("form[data-composer]");
  var text = form.querySelector("textarea");
  var status = root.querySelector("[data-connection]");
  var labels = JSON.parse(document.getElementById("support-labels").textContent);
  var token = form.querySelector("input[name=csrfmiddlewaretoken]").value;

  function newId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var out = "";
    var bytes = crypto.getRandomValues(new Uint8Array(16));
    for (var i = 0; i < bytes.length; i++) out += (bytes[i] + 256).toString(16).slice(1);
    return out;
  }

  function scrollDown() { list.scrollTop = list.scrollHeight; window.scrollTo(0, document.body.scrollHeight); }

  function dropEmpty() {
    var empty = list.querySelector("[data-empty]");
    if (empty) empty.remove();
  }

  function setState(li, state) {
    li.dataset.state = state;
    var span = li.querySelector(".entry-state");
    span.textContent = labels[state];
    var retry = li.querySelector("button.entry-retry");
    if (state === "failed" && !retry) {
      retry = document.createElement("button");
      retry.type = "button";
      retry.className = "entry-retry";
      retry.textContent = labels.retry;
      li.appendChild(retry);
    } else if (state !== "failed" && retry) {
      retry.remove();
    }
  }

  function bubble(key, body) {
    var li = document.createElement("li");
    li.className = "entry entry-in";
    li.dataset.key = key;
    li.dataset.text = body;
    var p = document.createElement("p");
    p.textContent = body;
    var span = document.createElement("span");
    span.className = "entry-state";
    li.appendChild(p);
    li.appendChild(document.createTextNode(" "));
    li.appendChild(span);
    return li;
  }

  // One message at a time, in the order the visitor wrote them: sent at once, a later message
  // could reach the server first and be stored (and shown to the agent) before an earlier one,
  // or take the rate limit's last place from it. A retry joins the end of the line.
  var outbox = [];
  var sendingNow = false;
  function send(li) {
    setState(li, "sending");
    outbox.push(li);
    sendNext();
  }
  function sendNext() {
    if (sendingNow || !outbox.length) return;
    sendingNow = true;
    var li = outbox.shift();
    function next() { sendingNow = false; sendNext(); }
    (li.file ? upload(li) : post(li)).then(next, next);
  }

  function post(li) {
    var body = new FormData();
    body.append("csrfmiddlewaretoken", token);
    body.append("client_id", li.dataset.key);
    body.append("text", li.dataset.text);
    return fetch(form.action, {
      method: "POST", body: body, credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRFToken": token },
    }).then(function (r) {
      setState(li, r.ok ? "delivered" : "failed");
      if (r.status === 429) r.json().then(showLimit, function () {});
    }).catch(function () { setState(li, "failed"); });
  }

  // Too many messages too fast (429): the server's "slow down", next to the composer, until
  // its Retry-After has passed; the refused message stays "not sent" with its retry button.
  var limitNote = root.querySelector("[data-composer-error]");
  var limitTimer = null;
  function showLimit(data) {
    if (!limitNote || !data || !data.error) return;
    limitNote.textContent = data.error;
    limitNote.hidden = false;
    clearTimeout(limitTimer);
    limitTimer = setTimeout(function () { limitNote.hidden = true; },
      1000 * Math.max(1, Number(data.retry_after) || 5));
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var body = text.value.trim();
    if (!body) return;
    dropEmpty();
    var li = bubble(newId(), body);
    list.appendChild(li);
    text.value = "";
    send(li);
    scrollDown();
  });
  text.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); form.requestSubmit(); }
  });
  list.addEventListener("click", function (e) {
    var retry = e.target.closest("button.entry-retry");
    if (retry) send(retry.closest("li"));
  });

  function insert(html) {
    var t = document.createElement("template");
    t.innerHTML = html;
    dropEmpty();
    list.appendChild(t.content);
    scrollDown();
  }

  // The server's history replaces the list; our own messages it does not know yet (still
  // sending, or failed) stay at the end.
  function refresh() {
    return fetch(root.dataset.historyUrl, { credentials: "same-origin" })
      .then(function (r) {
        if (!r.ok) return Promise.reject(r.status);
        if (r.headers.get("X-Chat-Over")) setTimeout(function () { over(null); }, 0);
        return r.text();
      })
      .then(function (html) {
        var local = Array.prototype.filter.call(list.querySelectorAll("li[data-key]"), function (li) {
          return li.dataset.state !== "delivered" || li.dataset.text !== undefined;
        });
        var t = document.createElement("template");
        t.innerHTML = html;
        var known = {};
        t.content.querySelectorAll("li[data-key]").forEach(function (li) { known[li.dataset.key] = true; });
        list.replaceChildren(t.content);
        local.forEach(function (li) { if (!known[li.dataset.key]) { dropEmpty(); list.appendChild(li); } });
        scrollDown();
      }).catch(function () {});
  }

  // Waiting in the pool: the place and the estimated wait, until an agent takes the chat.
  var queue = root.querySelector("[data-queue]");
  function showQueue(data) {
    if (!queue) return;
    if (!data || data.position === null || data.position === undefined) {
      queue.hidden = true;
      return;
    }
    queue.querySelector("[data-queue-position]").textContent = data.text;
    queue.querySelector("[data-queue-wait]").textContent = data.wait;
    queue.hidden = false;
  }
  // The place as the server has it now (the socket pushes what changes after that).
  function refreshQueue() {
    if (!queue) return;
    fetch(queue.dataset.queueUrl, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        var t = document.createElement("template");
        t.innerHTML = html;
        var fresh = t.content.querySelector("[data-queue]");
        if (fresh) { queue.replaceWith(fresh); queue = fresh; }
      }).catch(function () {});
  }

  // The chat is over (resolved by the agent, or ended in another tab): the rating shows.
  function over(html) {
    var section = document.querySelector("[data-over]");
    if (!section || !section.hidden) return;
    if (html) insert(html);
    form.hidden = true;
    section.hidden = false;
    var end = document.querySelector("[data-end]");
    if (end) end.hidden = true;
    var first = section.querySelector("input[name=rating]");
    if (first) first.focus();
  }

  // Files: the attach button, a pasted image or a dropped file is sent on its own, as a
  // multipart POST with its own client message id (a retry resends the same id: never twice).
  // A refused type or size is said next to the composer, in the server's words.
  var attach = form.querySelector("input[data-attach]");
  var uploadUrl = form.querySelector("[data-upload-url]").dataset.uploadUrl;
  var problem = root.querySelector("[data-composer-error]");

  function showProblem(message) {
    problem.textContent = message || "";
    problem.hidden = !message;
  }

  function upload(li) {
    var body = new FormData();
    body.append("csrfmiddlewaretoken", token);
    body.append("client_id", li.dataset.key);
    body.append("file", li.file, li.file.name);
    return fetch(uploadUrl, {
      method: "POST", body: body, credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRFToken": token },
    }).then(function (r) {
      if (r.ok) { setState(li, "delivered"); refresh(); return; }
      if (r.status === 429) r.json().then(showLimit, function () {});
      if (r.status === 400 || r.status === 413) {
        return r.json().catch(function () { return {}; }).then(function (data) {
          li.remove();
          showProblem(data.error || labels.upload_failed);
        });
      }
      setState(li, "failed");
    }).catch(function () { setState(li, "failed"); });
  }

  function attachFile(file) {
    if (!file) return;
    showProblem("");
    if (file.size > Number(labels.max_bytes)) { showProblem(labels.too_big); return; }
    dropEmpty();
    var li = bubble(newId(), file.name);
    li.file = file;
    list.appendChild(li);
    send(li);
    scrollDown();
  }

  attach.addEventListener("change", function () {
    var file = attach.files[0];
    attach.value = "";
    attachFile(file);
  });
  text.addEventListener("paste", function (e) {
    var files = e.clipboardData && e.clipboardData.files;
    if (files && files.length) { e.preventDefault(); attachFile(files[0]); }
  });
  root.addEventListener("dragover", function (e) { e.preventDefault(); });
  root.addEventListener("drop", function (e) {
    var files = e.dataTransfer && e.dataTransfer.files;
    if (files && files.length) { e.preventDefault(); attachFile(files[0]); }
  });

  var delay = 500;
  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var ws = new WebSocket(scheme + location.host + root.dataset.socket);
    ws.onopen = function () { delay = 500; status.hidden = true; };
    ws.onmessage = function (ev) {
      var data;
      try { data = JSON.parse(ev.data); } catch (err) { return; }
      if (data.kind === "hello" || data.kind === "resync") {
        refresh();
        refreshQueue();
      } else if (data.kind === "message") {
        if (!list.querySelector('[data-message-id="' + Number(data.id) + '"]')) insert(data.html);
        ws.send(JSON.stringify({ action: "ack", message: data.id }));
      } else if (data.kind === "system") {
        insert(data.html);
        if (data.joined) showQueue(null);
      } else if (data.kind === "queue") {
        showQueue(data);
      } else if (data.kind === "over") {
        over(data.html);
      }
    };
    ws.onclose = function (ev) {
      if (ev.code === 4401 || ev.code === 4404) return;
      status.hidden = false;
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 10000);
    };
  }
  connect();
  scrollDown();
})();
