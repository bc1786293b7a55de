// Live updates: the navigation's counts follow the person's notifications, and the page of a
// service that changed refreshes (unless something is being typed: then it says so). Pages
// work the same without this.
(function () {
  "use strict";
  if (!window.EventSource) return;
  var here = document.getElementById("live");
  var service = here ? here.getAttribute("data-service") : null;

  // The pages' script (app.js, run before this one) keeps the counts.
  var setBadge = window.agencyHub.setBadge;

  // Something typed or chosen and not sent: a field that differs from what the page came
  // with (an answer or a message to edit comes filled in; that is not typing).
  function typing() {
    var fields = document.querySelectorAll(
      "textarea, input[type=text], input[type=url], input[type=date], input[type=file]");
    for (var i = 0; i < fields.length; i++) {
      var f = fields[i];
      if (f.type === "file" ? f.value : f.value !== f.defaultValue) return true;
    }
    return false;
  }

  function changed() {
    if (!typing()) {
      window.location.reload();
      return;
    }
    var note = document.getElementById("live-note");
    if (!note) {
      note = document.createElement("p");
      note.id = "live-note";
      note.className = "flash flash-info";
      note.setAttribute("role", "status");
      note.textContent = "Something new arrived on this service: reload the page to see it (what you typed is not sent yet).";
      here.parentNode.insertBefore(note, here);
    }
  }

  var source = new EventSource("/events");
  // Browsers hold few connections per site (six over HTTP/1.1): give this one back as the
  // page goes, or the next pages wait for it.
  window.addEventListener("pagehide", function () {
    source.close();
  });
  source.addEventListener("unread", function (e) {
    var d = JSON.parse(e.data);
    setBadge("/notifications", d.all, "unread");
    setBadge("/services", d.messages, "unread messages");
    setBadge("/my/services", d.messages, "unread messages");
    if (service && d.services.indexOf(Number(service)) >= 0) changed();
  });
})();
