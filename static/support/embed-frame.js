// The support page inside the embed snippet's frame: Escape asks the host page's launcher to
// close the panel (the host cannot hear keys pressed in a frame from another origin). Sends
// nothing but that request; the launcher checks it comes from its own frame.
(function () {
  "use strict";
  if (window.parent === window) return;
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") window.parent.postMessage({ omnico: "close" }, "*");
  });
})();
