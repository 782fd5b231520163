// A page that waits for work (an element with data-progress-url) asks the server how the work
// goes, soon at first and then less often (0.2 s doubling to 2 s), and reloads itself the moment
// the work is done or failed. Without JavaScript the page's <noscript> refresh does the same.
(function () {
  "use strict";
  var element = document.querySelector("[data-progress-url]");
  if (!element || !window.fetch) {
    return;
  }
  var url = element.getAttribute("data-progress-url");
  var delay = 200;
  var LONGEST = 2000;

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
    window.setTimeout(poll, delay);
    delay = Math.min(delay * 2, LONGEST);
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
    }).catch(later);  // the server is restarting, or the network blinked: ask again later
  }

  later();
}());
