/* Keyboard shortcuts of the agent screen.
 *
 *   j / k   next / previous conversation in the inbox list (it opens, and takes the focus)
 *   r       write a reply: focus the reply box of the open ticket
 *   e       resolve the open ticket (through the panel's status control, as a click would)
 *   Esc     leave the reply box (so j/k/r/e work again)
 *   (Enter in the reply box sends it: static/js/ticket.js)
 *
 * Never while typing in a field, nor with Ctrl/Alt/Meta held. The list rows are
 * #inbox-list > [id^="ticket-row-"]; the selected one gets .is-selected and the focus (the
 * focus ring is the browser's :focus-visible, styled in omnico.css).
 */
(function () {
  "use strict";

  var ROW = '#inbox-list [id^="ticket-row-"]';
  var REPLY = '[data-reply-body], [data-reply-box], textarea[name="body"]';
  var selectedId = null;

  function typing(target) {
    if (!target || target === document.body) return false;
    if (target.isContentEditable) return true;
    var tag = target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT";
  }

  function visible(el) {
    return !!(el && (el.offsetWidth || el.offsetHeight || el.getClientRects().length));
  }

  function rows() {
    return Array.prototype.filter.call(document.querySelectorAll(ROW), visible);
  }

  function rowId(row) {
    return row.id.slice("ticket-row-".length);
  }

  /* The ticket open on this page: /inbox/<id>/, ?ticket=<id>, or a #conversation-<id>. */
  function openTicketId() {
    var match = window.location.pathname.match(/\/inbox\/(\d+)\//);
    if (match) return match[1];
    var param = new URLSearchParams(window.location.search).get("ticket");
    if (param) return param;
    var conversation = document.querySelector('[id^="conversation-"]');
    return conversation ? conversation.id.slice("conversation-".length) : null;
  }

  function currentIndex(list) {
    var active = document.activeElement;
    for (var i = 0; i < list.length; i++) {
      if (active && list[i].contains(active) && active !== document.body) return i;
    }
    var wanted = openTicketId() || selectedId;  // a mouse click may have opened another
    for (var j = 0; j < list.length; j++) {
      if (rowId(list[j]) === wanted) return j;
    }
    return -1;
  }

  function select(row) {
    document.querySelectorAll(ROW + ".is-selected").forEach(function (el) {
      el.classList.remove("is-selected");
    });
    row.classList.add("is-selected");
    selectedId = rowId(row);
    var link = row.querySelector("a[href], [hx-get], button") || row;
    if (link === row && !row.hasAttribute("tabindex")) row.setAttribute("tabindex", "-1");
    link.focus();
    row.scrollIntoView({ block: "nearest" });
    link.click();
  }

  function move(step) {
    var list = rows();
    if (!list.length) return false;
    var index = currentIndex(list);
    var next = index < 0 ? (step > 0 ? 0 : list.length - 1) : index + step;
    if (next < 0 || next >= list.length) return false;
    select(list[next]);
    return true;
  }

  function reply() {
    var boxes = Array.prototype.filter.call(document.querySelectorAll(REPLY), visible);
    if (!boxes.length) return false;
    boxes[0].focus();
    return true;
  }

  function panel() {
    var id = openTicketId();
    return (id && document.getElementById("panel-" + id)) || document.querySelector('[id^="panel-"]');
  }

  function resolve() {
    var scope = panel() || document;
    var button = scope.querySelector('button[name="status"][value="resolved"]');
    if (button) {
      button.click();
      return true;
    }
    var control = scope.querySelector('select[name="status"]');
    if (!control) return false;
    var option = control.querySelector('option[value="resolved"]');
    if (!option || option.disabled) return false;
    control.value = "resolved";
    var form = control.form;
    var selfSubmits = control.hasAttribute("hx-post") || control.hasAttribute("hx-put") ||
      control.hasAttribute("hx-patch") ||
      (form && /change/.test(form.getAttribute("hx-trigger") || ""));
    if (selfSubmits || !form) {
      control.dispatchEvent(new Event("change", { bubbles: true }));
    } else if (form.requestSubmit) {
      form.requestSubmit();
    } else {
      form.submit();
    }
    return true;
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.isComposing) return;
    if (event.key === "Escape" && typing(event.target) && event.target.matches(REPLY)) {
      event.target.blur();
      return;
    }
    if (event.ctrlKey || event.altKey || event.metaKey || typing(event.target)) return;
    var done = false;
    switch (event.key) {
      case "j": done = move(1); break;
      case "k": done = move(-1); break;
      case "r": done = reply(); break;
      case "e": done = resolve(); break;
      default: return;
    }
    if (done) event.preventDefault();
  });

  /* The list is re-rendered by live pushes and "load more": keep the selection marked. */
  document.addEventListener("htmx:afterSettle", function () {
    if (!selectedId) return;
    var row = document.getElementById("ticket-row-" + selectedId);
    if (row && row.matches(ROW)) row.classList.add("is-selected");
  });
})();
