/* Canned responses in the composer.
 *
 * Typing "/" at the start of a word in the reply box opens a list of answers (fetched from the
 * server as <li role="option"> items: templates/inbox/fragments/canned_options.html) filtered as
 * the agent types. Up/Down choose, Enter or Tab inserts, Escape closes; a click inserts too.
 * Inserting asks the server for the answer's text filled in for this ticket (JSON, plain text),
 * replaces the "/word" with it, and adds a hidden input name="canned" so the reply, once sent,
 * counts a use of the answer.
 *
 * The reply box is a combobox controlling the listbox (aria-expanded, aria-controls,
 * aria-activedescendant); the focus stays in the box. Keys are caught on window in the
 * capture phase, before ticket.js (Enter sends) and keys.js (Escape leaves the box) see them.
 */
(function () {
  "use strict";

  var WORD = /(^|\s)\/([^\s\/]{0,40})$/;
  var state = null;  // {box, root, list, start, query, active, seq}
  var seq = 0;
  var timer = null;

  function rootFor(box) {
    if (!box || !box.id) return null;
    return document.querySelector('[data-canned][data-canned-for="' + box.id + '"]');
  }

  function listOf(root) { return root.querySelector('[role="listbox"]'); }

  function options() {
    if (!state) return [];
    return Array.prototype.filter.call(
      state.list.querySelectorAll('[role="option"]'),
      function (el) { return el.getAttribute("aria-disabled") !== "true"; }
    );
  }

  function prepare(box, root) {
    if (box.dataset.cannedReady) return;
    box.dataset.cannedReady = "1";
    var list = listOf(root);
    box.setAttribute("role", "combobox");
    box.setAttribute("aria-autocomplete", "list");
    box.setAttribute("aria-haspopup", "listbox");
    box.setAttribute("aria-controls", list.id);
    box.setAttribute("aria-expanded", "false");
    var hint = root.querySelector('[id^="canned-hint-"]');
    if (hint) {
      var described = (box.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
      if (described.indexOf(hint.id) < 0) described.push(hint.id);
      box.setAttribute("aria-describedby", described.join(" "));
    }
  }

  function close() {
    if (!state) return;
    state.list.hidden = true;
    state.list.innerHTML = "";
    state.box.setAttribute("aria-expanded", "false");
    state.box.removeAttribute("aria-activedescendant");
    state = null;
    seq += 1;  // answers still on their way are dropped
  }

  function setActive(index) {
    var all = options();
    if (!state) return;
    all.forEach(function (el, i) { el.setAttribute("aria-selected", i === index ? "true" : "false"); });
    state.active = all.length ? Math.max(0, Math.min(index, all.length - 1)) : -1;
    if (state.active < 0) {
      state.box.removeAttribute("aria-activedescendant");
      return;
    }
    var el = all[state.active];
    state.box.setAttribute("aria-activedescendant", el.id);
    el.scrollIntoView({ block: "nearest" });
  }

  function search(box, root, start, query) {
    var list = listOf(root);
    if (!state || state.box !== box) {
      if (state) close();
      state = { box: box, root: root, list: list, start: start, query: query, active: -1 };
    }
    state.start = start;
    state.query = query;
    var mine = ++seq;
    var url = root.dataset.cannedSearch + "?q=" + encodeURIComponent(query);
    fetch(url, { credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error(String(response.status));
        return response.text();
      })
      .then(function (html) {
        if (mine !== seq || !state) return;
        list.innerHTML = html;  // an auto-escaped server template
        Array.prototype.forEach.call(list.querySelectorAll('[role="option"]'), function (el, i) {
          el.id = list.id + "-" + (el.dataset.cannedId || "none-" + i);
        });
        list.hidden = false;
        box.setAttribute("aria-expanded", "true");
        setActive(0);
      })
      .catch(function () { if (mine === seq) close(); });
  }

  function update(box) {
    var root = rootFor(box);
    if (!root) return;
    prepare(box, root);
    var caret = box.selectionStart;
    if (caret !== box.selectionEnd) { close(); return; }
    var match = WORD.exec(box.value.slice(0, caret));
    if (!match) { close(); return; }
    var query = match[2];
    var start = caret - query.length - 1;
    if (state && state.box === box && state.query === query && !state.list.hidden) return;
    window.clearTimeout(timer);
    timer = window.setTimeout(function () { search(box, root, start, query); }, 80);
  }

  function renderUrl(root, id) {
    return root.dataset.cannedRender.replace(/\/0\/$/, "/" + encodeURIComponent(id) + "/");
  }

  function remember(form, id) {
    if (!form) return;
    var exists = Array.prototype.some.call(form.querySelectorAll('input[name="canned"]'),
      function (input) { return input.value === String(id); });
    if (exists) return;
    var input = document.createElement("input");
    input.type = "hidden";
    input.name = "canned";
    input.value = String(id);
    form.appendChild(input);
  }

  function insert(option) {
    if (!state || !option) return;
    var box = state.box, root = state.root;
    var start = state.start, token = "/" + state.query;
    var id = option.dataset.cannedId;
    close();
    if (!id) return;
    fetch(renderUrl(root, id), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error(String(response.status));
        return response.json();
      })
      .then(function (data) {
        var value = box.value;
        var from, to;
        if (value.slice(start, start + token.length) === token) {
          from = start;
          to = start + token.length;
        } else {  // the text moved meanwhile: put it at the caret
          from = box.selectionStart;
          to = box.selectionEnd;
        }
        box.value = value.slice(0, from) + data.text + value.slice(to);
        var caret = from + data.text.length;
        box.focus();
        box.setSelectionRange(caret, caret);
        remember(box.form, data.id);
      })
      .catch(function () {
        var labels = document.getElementById("ui-labels");
        if (labels && window.alert) window.alert(labels.dataset.requestFailed);
      });
  }

  document.addEventListener("input", function (event) {
    var box = event.target;
    if (box.matches && box.matches("textarea[data-reply-body]")) update(box);
  });

  document.addEventListener("focusout", function (event) {
    if (state && event.target === state.box) {
      // a click in the list keeps the focus (mousedown is prevented); anything else closes
      window.setTimeout(function () {
        if (state && document.activeElement !== state.box) close();
      }, 0);
    }
  });

  document.addEventListener("click", function (event) {
    if (!state) return;
    var box = event.target.matches && event.target.matches("textarea[data-reply-body]");
    if (box) { update(event.target); return; }
    var option = event.target.closest && event.target.closest('[role="option"]');
    if (option && state.list.contains(option)) {
      if (option.getAttribute("aria-disabled") !== "true") insert(option);
      return;
    }
    if (!state.list.contains(event.target)) close();
  });

  document.addEventListener("mousedown", function (event) {
    if (state && state.list.contains(event.target)) event.preventDefault();
  });

  window.addEventListener("keydown", function (event) {
    if (!state || event.target !== state.box || state.list.hidden || event.isComposing) return;
    var all = options();
    var handled = true;
    switch (event.key) {
      case "ArrowDown": setActive(state.active + 1 >= all.length ? 0 : state.active + 1); break;
      case "ArrowUp": setActive(state.active <= 0 ? all.length - 1 : state.active - 1); break;
      case "Enter":
      case "Tab":
        if (event.shiftKey || event.ctrlKey || event.altKey || event.metaKey || state.active < 0) {
          handled = false;
          close();
        } else {
          insert(all[state.active]);
        }
        break;
      case "Escape": close(); break;
      default: handled = false;
    }
    if (handled) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);

  // The composer is re-rendered after a reply: a list open in the old one goes with it.
  document.addEventListener("htmx:beforeSwap", function () {
    if (state && !document.contains(state.box)) close();
  });
  document.addEventListener("htmx:afterSwap", function () {
    if (state && !document.contains(state.box)) close();
  });
})();
