/* Omnico live updates: one websocket per agent page, at /ws/agent/.
 *
 * The server pushes HTML rendered once per event and language in each web process, shared by
 * all its sockets (omnico/core/realtime_hub.py, inbox/realtime.py renderers), wrapped in
 * <template data-live="..."> envelopes (templates/inbox/fragments/live.html):
 *   row      a list row with its facets; placed in #inbox-list if it belongs to the tab shown,
 *            at its place in the order, or removed when it no longer belongs; when the page
 *            cannot tell (search text, tag filter, no filter info), the list re-syncs.
 *            The list tells its filter as JSON in #inbox-list[data-live-filter]:
 *              {"tab": "mine|unassigned|pool|all", "status": "", "channel": "",
 *               "department": "", "tag": "", "q": "", "sort": "recent|created|priority"}
 *            and each row its position as data-sort="{{ cursor_encode(ticket, sort) }}".
 *   message  #message-<id> replaced, or appended to #conversation-<ticket>.
 *   refresh  the ticket's panel (#panel-<id>) is re-fetched with the agent's own request.
 *   toast    appended to #toasts.        resync  the list (or a ticket) re-fetches itself.
 *   hello / watching / refused / event (custom DOM event on <body>, e.g. omnico:team).
 * The page says which ticket it shows ({"action": "watch"}), found as #conversation-<id>.
 * A dropped socket reconnects with backoff; on reconnect the page re-fetches what it missed by
 * triggering "resync" on #inbox-list, on the open conversation and on [data-live-resync].
 * On the FIRST hello, a list rendered before the socket joined (the page's own, or one fetched
 * before the hello) asks the server whether it is still current: it re-fetches itself with its
 * data-live-since and data-live-digest, and the server answers 204 (no swap) unless a ticket
 * changed in between (inbox/list_freshness.py). A swap of the list keeps the focused row focused.
 * The open conversation does the same when the socket starts watching its ticket ("watching").
 * A screen that falls behind gets the latest state of each row and message (the server keeps
 * only the newest frame of each thing it has not sent yet), or one "resync" for a long backlog.
 * No visible text is written here: the page provides it in #live-labels.
 */
(function () {
  "use strict";

  if (!window.WebSocket || !window.htmx) { return; }

  var MIN_DELAY = 500;
  var MAX_DELAY = 15000;
  var CLOSE_SIGNED_OUT = 4401;
  var CHECK_HOLD_MAX = 10000;  // ms a check may hold pushed rows and messages back at most
  // The indicator's words come from the page, translated by Django
  // (templates/inbox/fragments/live_labels.html): {live, connecting, reconnecting, signedOut}.
  var LABELS = (document.getElementById("live-labels") || { dataset: {} }).dataset;
  // Its colours are in static/css/omnico.css (.live-status[data-state=...]), readable on the bar.

  var socket = null;
  var delay = MIN_DELAY;
  var opened = false;
  var stopped = false;
  var retryTimer = null;
  var userId = null;
  var watching = null;
  var timers = {};
  var helloSeen = false;
  var earlyListFetches = [];  // list requests sent before the first hello (their XHRs)
  var focusedRow = null;      // the row that had the focus when the list was swapped
  var checking = 0;           // checks under way (see check())
  var held = [];              // rows and messages pushed while they are

  // --- connection indicator -----------------------------------------------------------------

  function indicator() {
    var el = document.getElementById("live-status");
    if (el) { return el; }
    var bar = document.querySelector(".topbar-right");
    if (!bar) { return null; }
    el = document.createElement("span");
    el.id = "live-status";
    el.className = "live-status";
    el.setAttribute("role", "status");
    el.style.cssText = "font-size:.8rem;white-space:nowrap";
    bar.insertBefore(el, bar.firstChild);
    return el;
  }

  function setStatus(state) {
    var el = indicator();
    if (!el) { return; }
    el.dataset.state = state;
    var label = LABELS[state === "signed-out" ? "signedOut" : state] || "";
    el.textContent = label ? "\u25CF " + label : "\u25CF";
  }

  // --- the socket ---------------------------------------------------------------------------

  function socketUrl() {
    return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/agent/";
  }

  function connect() {
    retryTimer = null;
    if (stopped) { return; }
    setStatus(opened ? "reconnecting" : "connecting");
    socket = new WebSocket(socketUrl());
    socket.onopen = function () {
      delay = MIN_DELAY;
      setStatus("live");
      watching = null;
      syncWatch();
      if (opened) { resyncAll(); }  // a reconnect: fetch what was missed while away
      opened = true;
    };
    socket.onmessage = function (event) { handle(event.data); };
    socket.onclose = function (event) {
      socket = null;
      if (event.code === CLOSE_SIGNED_OUT) {
        stopped = true;
        setStatus("signed-out");
        return;
      }
      scheduleReconnect();
    };
  }

  function scheduleReconnect() {
    if (stopped || retryTimer) { return; }
    setStatus("reconnecting");
    var wait = delay / 2 + Math.random() * delay / 2;
    delay = Math.min(delay * 2, MAX_DELAY);
    retryTimer = window.setTimeout(connect, wait);
  }

  function reconnectNow() {
    if (stopped || socket) { return; }
    if (retryTimer) { window.clearTimeout(retryTimer); retryTimer = null; }
    delay = MIN_DELAY;
    connect();
  }

  function send(data) {
    if (socket && socket.readyState === WebSocket.OPEN) { socket.send(JSON.stringify(data)); }
  }

  function openTicketId() {
    var el = document.querySelector("[id^='conversation-']");
    if (!el) { return null; }
    var id = parseInt(el.id.slice("conversation-".length), 10);
    return isNaN(id) ? null : id;
  }

  function syncWatch() {
    var id = openTicketId();
    if (id === watching) { return; }
    if (id) { send({ action: "watch", ticket: id }); } else { send({ action: "unwatch" }); }
    watching = id;
  }

  // --- frames -------------------------------------------------------------------------------

  function handle(text) {
    var holder = document.createElement("template");
    holder.innerHTML = text;
    Array.prototype.forEach.call(holder.content.children, function (env) {
      if (env.tagName !== "TEMPLATE" || !env.dataset.live) { return; }
      if (checking && (env.dataset.live === "row" || env.dataset.live === "message")) {
        held.push(env);  // placed once the check's answer is in (see check())
        return;
      }
      apply(env);
    });
  }

  function apply(env) {
    var kind = env.dataset.live;
    try {
      if (kind === "row") { placeRow(env); }
      else if (kind === "message") { placeMessage(env); }
      else if (kind === "refresh") { refreshPanel(env.dataset.ticket); }
      else if (kind === "toast") { swap(document.getElementById("toasts"), env.innerHTML, "beforeend"); }
      else if (kind === "resync") {
        if (env.dataset.ticket) { resyncTicket(env.dataset.ticket); } else { resyncList(); }
      }
      else if (kind === "hello") { userId = env.dataset.user; firstHello(); }
      else if (kind === "watching") { checkConversation(env.dataset.ticket); }
      else if (kind === "refused") { if (String(watching) === env.dataset.ticket) { watching = null; } }
      else if (kind === "event") { fire(env.dataset.name, parse(env.dataset.detail)); }
    } catch (error) {
      if (window.console) { window.console.error("live update failed", kind, error); }
    }
  }

  function parse(raw) {
    try { return raw ? JSON.parse(raw) : {}; } catch (error) { return {}; }
  }

  function fire(name, detail) {
    if (name) { htmx.trigger(document.body, name, detail || {}); }
  }

  function swap(target, html, style) {
    if (!target) { return; }
    htmx.swap(target, html, { swapStyle: style });
  }

  // --- the inbox list -----------------------------------------------------------------------

  /* Does a ticket with these facets belong to the list shown? true / false / null (can't tell). */
  function belongs(list, facts) {
    var raw = list.getAttribute("data-live-filter");
    if (raw === null) { return null; }
    var filter = parse(raw);
    if (filter.q || filter.tag || filter.group_type || filter.subject) { return null; }
    if (filter.channel && filter.channel !== facts.source) { return false; }
    if (filter.department && String(filter.department) !== facts.department) { return false; }
    if (filter.status) {
      if (filter.status !== facts.status) { return false; }
    } else if (filter.scope !== "any" && facts.active !== "1") {
      return false;  // the inbox shows active tickets unless a status is picked
    }
    var tab = filter.tab || "all";
    if (tab === "all") { return true; }
    var me = userId || list.getAttribute("data-user");
    if (tab === "mine") { return me ? facts.assignee === String(me) : null; }
    if (tab === "unassigned") { return facts.assignee === ""; }
    if (tab === "pool") { return facts.assignee === "" && facts.slot === "1" && facts.offline !== "1"; }
    if (tab === "offline") { return facts.offline === "1" && facts.status === "open"; }
    return null;
  }

  /* Orders a list can show (inbox.selectors.SORTS) and whether bigger keys come first. */
  var DESCENDING = { recent: true, created: true, priority: false };

  function listSort(list) {
    var filter = parse(list.getAttribute("data-live-filter"));
    var sort = filter.sort || (filter.tab === "pool" ? "priority" : "recent");
    return DESCENDING.hasOwnProperty(sort) ? sort : null;
  }

  function sortKey(raw) {
    if (!raw) { return null; }
    return raw.split(".").map(function (part) { return part === "n" ? -Infinity : Number(part); });
  }

  /* Does key a come before key b in the list's order? */
  function comesBefore(a, b, descending) {
    for (var i = 0; i < Math.min(a.length, b.length); i++) {
      if (a[i] !== b[i]) { return descending ? a[i] > b[i] : a[i] < b[i]; }
    }
    return false;
  }

  function rowsOf(list) {
    return Array.prototype.filter.call(list.children, function (el) {
      return el.id && el.id.indexOf("ticket-row-") === 0;
    });
  }

  function placeRow(env) {
    var facts = env.dataset;
    fire("omnico:ticket", { ticket: Number(facts.ticket), created: facts.created === "1" });
    // An offline message changed: the homepage's card counts them again (home_offline.html).
    if (facts.offline === "1") { fire("omnico:offline", { ticket: Number(facts.ticket) }); }
    var list = document.getElementById("inbox-list");
    if (!list) { return; }
    var old = document.getElementById("ticket-row-" + facts.ticket);
    if (old && old.parentNode !== list) { old = null; }
    var verdict = belongs(list, facts);
    if (verdict === false) {
      if (old) { old.remove(); }
      return;
    }
    if (verdict === null && !old) { resyncList(); return; }
    var hadFocus = old && old.contains(document.activeElement);
    var sort = listSort(list);
    var sortAttr = sort ? "sort" + sort.charAt(0).toUpperCase() + sort.slice(1) : null;
    var key = sortAttr ? sortKey(facts[sortAttr]) : null;
    var anchor = null;
    var place = "afterbegin";
    if (verdict === null || !key) {
      if (old) { anchor = old; place = "outerHTML"; }
    } else {
      var rows = rowsOf(list).filter(function (row) { return row !== old; });
      var before = null;
      for (var i = 0; i < rows.length; i++) {
        var other = sortKey(rows[i].getAttribute("data-sort"));
        if (!other || comesBefore(key, other, DESCENDING[sort])) { before = rows[i]; break; }
      }
      if (before) {
        anchor = before; place = "beforebegin";
      } else if (rows.length && list.querySelector(".load-more, #load-more")) {
        if (old) { old.remove(); }  // it now sorts after the rows loaded so far
        return;
      } else {
        anchor = list.querySelector(".load-more, #load-more");
        place = anchor ? "beforebegin" : "beforeend";
        anchor = anchor || list;
      }
      if (old) { old.remove(); }
      if (!rows.length) { place = "afterbegin"; anchor = list; }
    }
    swap(anchor || list, env.innerHTML, place);
    var row = document.getElementById("ticket-row-" + facts.ticket);
    if (!row) { return; }
    if (key) { row.setAttribute("data-sort", facts[sortAttr]); }
    list.querySelectorAll(":scope > .empty").forEach(function (el) { el.remove(); });
    if (hadFocus) {
      var focusable = row.matches("a, [tabindex]") ? row : row.querySelector("a, [tabindex]");
      if (focusable) { focusable.focus({ preventScroll: true }); }
    }
    fire("omnico:row", { ticket: Number(facts.ticket) });
  }

  /* The socket has joined: was anything missed between the list's render and now? */
  function firstHello() {
    if (helloSeen) { return; }
    helloSeen = true;
    checkList();
  }

  function checkList() {
    var list = document.getElementById("inbox-list");
    if (!list || !list.getAttribute("data-live-since") || list.getAttribute("data-live-checked")) {
      return;
    }
    list.setAttribute("data-live-checked", "1");
    check(list, { live_digest: list.getAttribute("data-live-digest") || "" });
  }

  /* The conversation shown was rendered before the socket joined its ticket. */
  function checkConversation(ticketId) {
    var conversation = ticketId && document.getElementById("conversation-" + ticketId);
    if (!conversation || !conversation.getAttribute("data-live-since") ||
        conversation.getAttribute("data-live-checked")) {
      return;
    }
    conversation.setAttribute("data-live-checked", "1");
    check(conversation, {});
  }

  /* The element's own request (its URL, its hx-include) with its render time: the server
   * answers 204 (nothing to swap) unless something changed since. Rows and messages pushed
   * meanwhile are held and placed after the answer, so an answer rendered before them does not
   * undo them. */
  function check(el, values) {
    values.live_since = el.getAttribute("data-live-since");
    checking += 1;
    var released = false;
    var release = function () {
      if (released) { return; }
      released = true;
      checking -= 1;
      if (checking) { return; }
      var frames = held;
      held = [];
      frames.forEach(apply);
    };
    // Never hold pushes for long, whatever becomes of the request (aborted, replaced).
    window.setTimeout(release, CHECK_HOLD_MAX);
    var done = htmx.ajax("GET", el.getAttribute("hx-get"), {
      source: el, target: el, swap: "outerHTML settle:0ms", values: values,
    });
    if (done && done.then) { done.then(release, release); } else { release(); }
  }

  function isList(el) { return !!(el && el.id === "inbox-list"); }

  function noteListRequest(event) {
    if (!helloSeen && isList(event.detail.target) && event.detail.xhr) {
      earlyListFetches.push(event.detail.xhr);
    }
  }

  function rememberFocus(event) {
    if (!isList(event.detail.target) || !event.detail.shouldSwap) { return; }
    var active = document.activeElement;
    var row = active && active.closest ? active.closest("[id^='ticket-row-']") : null;
    focusedRow = row && event.detail.target.contains(row) ? row.id : null;
  }

  function afterListSettled(event) {
    var xhr = event.detail.xhr;
    var early = xhr ? earlyListFetches.indexOf(xhr) : -1;
    if (early >= 0) {
      earlyListFetches.splice(early, 1);
      if (helloSeen) { checkList(); }  // rendered before the socket joined: check it too
    }
  }

  /* Right after the swap (not at settle, which comes later), so keys see the focus at once. */
  function restoreFocus() {
    if (!focusedRow) { return; }
    var row = document.getElementById(focusedRow);
    focusedRow = null;
    if (!row || (document.activeElement && document.activeElement !== document.body)) { return; }
    var focusable = row.matches("a, [tabindex]") ? row : row.querySelector("a, [tabindex]");
    if (focusable) { focusable.focus({ preventScroll: true }); }
  }

  function resyncList() {
    debounce("list", 300, function () {
      var list = document.getElementById("inbox-list");
      if (list) { htmx.trigger(list, "resync"); }
    });
  }

  // --- the open ticket ----------------------------------------------------------------------

  function placeMessage(env) {
    var old = document.getElementById("message-" + env.dataset.message);
    if (old) { swap(old, env.innerHTML, "outerHTML"); return; }
    var conversation = document.getElementById("conversation-" + env.dataset.ticket);
    if (!conversation) { return; }
    var scroller = scrollParent(conversation);
    var atBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
    swap(conversation, env.innerHTML, "beforeend");
    if (atBottom) { scroller.scrollTop = scroller.scrollHeight; }
  }

  function scrollParent(el) {
    for (var node = el; node && node !== document.body; node = node.parentElement) {
      var overflow = window.getComputedStyle(node).overflowY;
      if ((overflow === "auto" || overflow === "scroll") && node.scrollHeight > node.clientHeight) {
        return node;
      }
    }
    return document.scrollingElement || document.documentElement;
  }

  function isEditing(panel) {
    var active = document.activeElement;
    if (!active || !panel.contains(active)) { return false; }
    if (active.matches("textarea, input:not([type=button]):not([type=submit])")) {
      return active.value !== active.defaultValue;
    }
    return active.matches("select");
  }

  function refreshPanel(ticketId) {
    debounce("panel-" + ticketId, 150, function () {
      var panel = document.getElementById("panel-" + ticketId);
      if (!panel) { return; }
      if (isEditing(panel)) {  // don't wipe what the agent is typing: refresh when they leave
        panel.addEventListener("focusout", function again() {
          panel.removeEventListener("focusout", again);
          window.setTimeout(function () { refreshPanel(ticketId); }, 0);
        });
        return;
      }
      var url = panel.getAttribute("data-refresh-url") || "/inbox/" + ticketId + "/panel/";
      htmx.ajax("GET", url, { target: panel, swap: "outerHTML" });
    });
  }

  function resyncTicket(ticketId) {
    var conversation = document.getElementById("conversation-" + ticketId);
    if (conversation) { htmx.trigger(conversation, "resync"); }
    refreshPanel(ticketId);
  }

  function resyncAll() {
    resyncList();
    if (watching) { resyncTicket(watching); }
    document.querySelectorAll("[data-live-resync]").forEach(function (el) {
      htmx.trigger(el, "resync");
    });
  }

  function debounce(name, ms, fn) {
    if (timers[name]) { window.clearTimeout(timers[name]); }
    timers[name] = window.setTimeout(function () { delete timers[name]; fn(); }, ms);
  }

  // A reply's own answer appends its message to the conversation; the socket may have placed
  // that message first. Keep the first one in the list (the socket's replaces it in place
  // from then on) and drop the "No messages yet" line.
  function keepOneOfEach(event) {
    var target = event.detail && event.detail.target;
    if (!target || !target.matches || !target.matches("ol.messages")) { return; }
    var seen = {};
    Array.prototype.forEach.call(target.querySelectorAll("li[id^='message-']"), function (li) {
      if (seen[li.id]) { li.remove(); } else { seen[li.id] = true; }
    });
    var empty = target.querySelector(".empty-thread");
    if (empty && target.querySelector("li[id^='message-']")) { empty.remove(); }
  }

  // --- wiring -------------------------------------------------------------------------------

  document.addEventListener("htmx:afterSwap", keepOneOfEach);
  document.addEventListener("htmx:beforeRequest", noteListRequest);
  document.addEventListener("htmx:beforeSwap", rememberFocus);
  document.addEventListener("htmx:afterSwap", restoreFocus);
  document.addEventListener("htmx:afterSettle", afterListSettled);

  document.addEventListener("htmx:afterSettle", syncWatch);
  window.addEventListener("popstate", function () { window.setTimeout(syncWatch, 0); });
  window.addEventListener("online", reconnectNow);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") { reconnectNow(); }
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", connect);
  } else {
    connect();
  }

  window.omnicoLive = {
    state: function () { var el = indicator(); return el ? el.dataset.state : null; },
    resync: resyncAll,
  };
})();
