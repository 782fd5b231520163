// Progressive enhancement only; every page works without it.
// A form, or the button that submits it, with data-confirm asks before a destructive action.
document.addEventListener("submit", function (event) {
  var button = event.submitter;
  var question = (button && button.getAttribute("data-confirm")) ||
    event.target.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});

// Layout helpers (phone navigation, scrollable tables).
document.documentElement.classList.add("js");

// On a phone the navigation folds behind a Menu button (CSS shows the button only when narrow).
document.addEventListener("DOMContentLoaded", function () {
  var toggle = document.querySelector(".nav-toggle");
  if (!toggle) { return; }
  toggle.addEventListener("click", function () {
    var open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
    toggle.closest(".topbar").classList.toggle("nav-open", open);
  });
});

// A table that scrolls inside its box can be scrolled with the keyboard and is named for
// screen readers after the heading above it.
function labelScrollingTables() {
  document.querySelectorAll(".table-wrap").forEach(function (box) {
    if (box.scrollWidth > box.clientWidth + 1) {
      box.setAttribute("tabindex", "0");
      box.setAttribute("role", "region");
      if (!box.hasAttribute("aria-label") || box.hasAttribute("data-auto-label")) {
        box.setAttribute("data-auto-label", "");
        var caption = box.querySelector("caption");
        var heading = caption || box.closest("section, .panel, main").querySelector("h2, h1");
        box.setAttribute("aria-label", (heading ? heading.textContent.trim() : "Table") + " (scrolls sideways)");
      }
    } else if (box.hasAttribute("data-auto-label")) {
      ["tabindex", "role", "aria-label", "data-auto-label"].forEach(function (name) {
        box.removeAttribute(name);
      });
    }
  });
}
document.addEventListener("DOMContentLoaded", labelScrollingTables);
window.addEventListener("resize", labelScrollingTables);

// A button with data-copy="#id" copies that element's text (a company ID) and says so.
document.addEventListener("DOMContentLoaded", function () {
  if (!navigator.clipboard) { return; }
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      var target = document.querySelector(button.getAttribute("data-copy"));
      var done = button.parentElement.querySelector(".copy-done");
      navigator.clipboard.writeText(target.textContent.trim()).then(function () {
        if (done) { done.textContent = "Copied"; }
      }, function () {
        if (done) { done.textContent = "Select the ID and copy it yourself"; }
      });
    });
  });
});
