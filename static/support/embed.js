// Omnico's embed snippet: a launcher button in the bottom corner of a company's own page that
// opens its support page in a frame panel (full screen on a phone) and closes it again.
// Served by /support/<name>/embed.js, which puts the page's settings in place of the
// __OMNICO_EMBED_CONFIG__ placeholder below. Leaves no global behind. Styles are set through
// the CSSOM (element.style), which a host page's CSP does not block; the button and panel live
// in a shadow root so the host's stylesheets do not reach them. The host page's CSP must
// allow this script (script-src) and the frame (frame-src) from Omnico's origin.
(function (config) {
  "use strict";
  var doc = document;
  var MARK = "data-omnico-support";

  function set(el, styles) {
    for (var key in styles) if (Object.prototype.hasOwnProperty.call(styles, key)) el.style[key] = styles[key];
    return el;
  }

  function readableOn(hex) {
    var n = parseInt(hex.slice(1), 16);
    var lum = 0.2126 * ((n >> 16) & 255) + 0.7152 * ((n >> 8) & 255) + 0.0722 * (n & 255);
    return lum > 150 ? "#111111" : "#ffffff";
  }

  function icon(paths, colour) {
    var ns = "http://www.w3.org/2000/svg";
    var svg = doc.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", "26");
    svg.setAttribute("height", "26");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    var path = doc.createElementNS(ns, "path");
    path.setAttribute("d", paths);
    path.setAttribute("fill", colour);
    svg.appendChild(path);
    return svg;
  }

  var CHAT = "M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2z";
  var CROSS = "M6.4 5 5 6.4 10.6 12 5 17.6 6.4 19 12 13.4 17.6 19 19 17.6 13.4 12 19 6.4 17.6 5 12 10.6z";

  function start() {
    if (doc.querySelector("[" + MARK + '="' + config.name + '"]')) return; // included twice
    var ink = readableOn(config.colour);
    var host = doc.createElement("div");
    host.setAttribute(MARK, config.name);
    var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;

    var panel = set(doc.createElement("div"), {
      position: "fixed", zIndex: "2147483000", display: "none", flexDirection: "column",
      background: "#ffffff", overflow: "hidden", boxShadow: "0 8px 32px rgba(0,0,0,.25)",
    });
    panel.setAttribute("role", "dialog");
    panel.setAttribute("aria-label", config.labels.title);
    panel.id = "omnico-support-panel";

    var bar = set(doc.createElement("div"), {
      display: "flex", justifyContent: "flex-end", background: config.colour, padding: "4px",
    });
    var close = set(doc.createElement("button"), {
      background: "transparent", border: "0", padding: "6px", cursor: "pointer", lineHeight: "0",
      borderRadius: "4px",
    });
    close.type = "button";
    close.setAttribute("aria-label", config.labels.close);
    close.appendChild(icon(CROSS, ink));
    bar.appendChild(close);

    var frame = set(doc.createElement("iframe"), {
      border: "0", width: "100%", flex: "1 1 auto", display: "block", background: "#ffffff",
    });
    frame.title = config.labels.title;
    panel.appendChild(bar);
    panel.appendChild(frame);

    var button = set(doc.createElement("button"), {
      position: "fixed", right: "20px", bottom: "20px", zIndex: "2147483001",
      width: "56px", height: "56px", borderRadius: "50%", border: "0", cursor: "pointer",
      background: config.colour, boxShadow: "0 4px 16px rgba(0,0,0,.3)", padding: "0",
      display: "flex", alignItems: "center", justifyContent: "center",
    });
    button.type = "button";
    button.setAttribute("aria-controls", panel.id);
    button.setAttribute("aria-expanded", "false");
    button.setAttribute("aria-label", config.labels.open);
    button.appendChild(icon(CHAT, ink));

    [button, close].forEach(function (b) {
      b.addEventListener("focus", function () { set(b, { outline: "3px solid " + ink, outlineOffset: "-6px" }); });
      b.addEventListener("blur", function () { set(b, { outline: "none" }); });
    });

    var phone = window.matchMedia ? window.matchMedia("(max-width: 600px)") : { matches: false };
    function layout() {
      if (phone.matches) {
        set(panel, { top: "0", left: "0", right: "0", bottom: "0", width: "100%", height: "100%", borderRadius: "0" });
      } else {
        set(panel, {
          top: "auto", left: "auto", right: "20px", bottom: "88px", width: "380px",
          height: "min(620px, calc(100vh - 108px))", borderRadius: "12px",
        });
      }
      set(button, { display: phone.matches && isOpen() ? "none" : "flex" });
    }
    function isOpen() { return panel.style.display !== "none"; }

    function open() {
      if (!frame.src) frame.src = config.url;
      panel.style.display = "flex";
      button.setAttribute("aria-expanded", "true");
      button.replaceChild(icon(CROSS, ink), button.firstChild);
      layout();
      frame.focus();
    }
    function shut() {
      if (!isOpen()) return;
      panel.style.display = "none";
      button.setAttribute("aria-expanded", "false");
      button.replaceChild(icon(CHAT, ink), button.firstChild);
      layout();
      button.focus();
    }

    button.addEventListener("click", function () { if (isOpen()) shut(); else open(); });
    close.addEventListener("click", shut);
    doc.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && isOpen()) shut();
    });
    window.addEventListener("message", function (event) {
      // Only the frame's own page may ask: from Omnico's origin, from this frame.
      if (event.origin === config.origin && event.source === frame.contentWindow &&
          event.data && event.data.omnico === "close") shut();
    });
    if (phone.addEventListener) phone.addEventListener("change", layout);

    root.appendChild(panel);
    root.appendChild(button);
    layout();
    doc.body.appendChild(host);
  }

  if (doc.body) start();
  else doc.addEventListener("DOMContentLoaded", start);
})(__OMNICO_EMBED_CONFIG__);
