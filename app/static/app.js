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
