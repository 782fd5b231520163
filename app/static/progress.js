// A page that waits for work (an element with data-progress-url) asks the server how the work
// goes (0.1 s, then 0.2 s, then every 0.5 s: one indexed row read each), and reloads itself within
// half a second of the work being done or failed. A tab in the background asks every 5 s, and a
// server that does not answer is asked again after 2 s. Without JavaScript the page's <noscript>
// refresh does the same, more slowly.
(function () {
  "use strict";
  var element = document.querySelector("[data-progress-url]");
  if (!element || !window.fetch) {
    return;
  }
  var url = element.getAttribute("data-progress-url");
  var delay = 100;
  var LONGEST = 500;
  var HIDDEN = 5000;
  var AFTER_ERROR = 2000;

  function show(answer) {
    var bar = document.querySelector("progress[data-progress-bar]");
    if (bar && typeof answer.progress === "number") {
      bar.value = answer.progress;
      bar.textContent = answer.progress + "%";
    }
    var percent = document.querySelector("[data-progress-percent]");
    if (percent && typeof answer.progress === "number") {
      percent.textContent = answer.progress + "%";
    }
  }

  function later() {
    window.setTimeout(poll, document.hidden ? HIDDEN : delay);
    delay = Math.min(delay * 2, LONGEST);
  }

  function afterError() {
    window.setTimeout(poll, AFTER_ERROR);
  }

  function poll() {
    window.fetch(url, {
      credentials: "same-origin",
      cache: "no-store",
      headers: { Accept: "application/json" }
    }).then(function (response) {
      if (response.redirected || (response.status >= 400 && response.status < 500)) {
        // Signed out, or the work is gone: the page itself says what happened.
        window.location.reload();
        return null;
      }
      if (!response.ok) {
        throw new Error("status " + response.status);
      }
      return response.json().then(function (answer) {
        if (!answer.busy) {
          window.location.reload();
          return;
        }
        show(answer);
        later();
      });
    }).catch(afterError);  // the server is restarting, or the network blinked: ask again
  }

  // Back in view: ask at once rather than at the end of a background wait.
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) {
      delay = 100;
    }
  });
  later();
}());
