// Small enhancements of pages that work without them.
(function () {
  "use strict";

  // The count on the navigation's link to `href`, and on what repeats it (`data-badge-of`: the
  // phone's "Menu", its cart link); gone at 0. Live updates (live.js) use it too.
  function setBadge(href, n, what) {
    var places = document.querySelectorAll(
      'nav a[href="' + href + '"], [data-badge-of="' + href + '"]'
    );
    for (var i = 0; i < places.length; i++) {
      var place = places[i];
      var badge = place.querySelector(".nav-badge");
      // The number is shown; what it counts is for screen readers (a name on a plain span
      // is not read).
      var words = place.querySelector(".badge-words");
      if (n > 0) {
        if (!badge) {
          badge = document.createElement("span");
          badge.className = "nav-badge";
          if (place.closest("nav")) badge.setAttribute("data-badge", href);
          words = document.createElement("span");
          words.className = "visually-hidden badge-words";
          place.appendChild(document.createTextNode(" "));
          place.appendChild(badge);
          place.appendChild(words);
        }
        badge.textContent = String(n);
        if (words) words.textContent = " " + what;
      } else if (badge) {
        badge.remove();
        if (words) words.remove();
      }
    }
  }
  window.agencyHub = { setBadge: setBadge };

  // In the cart, a quantity changes as it is set: its line's form is posted by the script (the
  // Update buttons are for pages without it) and the cart the server answers replaces this one
  // in place, its message said at the foot of the screen. Any failure posts the form itself.
  function hideUpdates() {
    var buttons = document.querySelectorAll(".cart-table .qty ~ button");
    for (var b = 0; b < buttons.length; b++) buttons[b].hidden = true;
  }
  if (document.querySelector(".cart-table") && window.fetch && window.DOMParser) {
    hideUpdates();
    // Only the latest change's answer is shown (quick clicks on a spinner overtake each other).
    var latest = null;
    document.addEventListener("change", function (e) {
      var input = e.target;
      if (!input.classList || !input.classList.contains("qty") || !input.form) return;
      var form = input.form;
      // A field being cleared to type anew is not a quantity yet.
      if (input.value === "") return;
      if (!input.checkValidity()) {
        input.reportValidity();
        return;
      }
      var name = input.getAttribute("aria-label");
      var mine = {};
      latest = mine;
      fetch(form.action, {
        method: "POST",
        body: new URLSearchParams(new FormData(form)),
        credentials: "same-origin"
      })
        .then(function (r) {
          return r.text();
        })
        .then(function (html) {
          if (latest !== mine) return;
          var fresh = new DOMParser().parseFromString(html, "text/html");
          var main = fresh.getElementById("main");
          if (!main || !main.querySelector(".page-head")) throw new Error("not the cart");
          var message = main.querySelector(".flash-success, .flash-error, .alert-error");
          var text = message && message.textContent.trim();
          var error = message && !message.classList.contains("flash-success");
          if (message && !error) message.remove();
          // The field keeps the focus only if it had it (a Tab moved on: leave it there).
          var focused = document.activeElement === input;
          document.getElementById("main").innerHTML = main.innerHTML;
          said = null;
          hideUpdates();
          scrollable();
          var count = fresh.querySelector('nav [data-badge="/store/cart"]');
          setBadge("/store/cart", count ? Number(count.textContent) : 0, "in your cart");
          var label = window.CSS && CSS.escape ? CSS.escape(name) : name;
          var again = document.querySelector('.qty[aria-label="' + label + '"]');
          if (again && focused) again.focus();
          if (text && !error) say(text);
        })
        .catch(function () {
          form.submit();
        });
    });
  }

  // A table wider than the screen scrolls inside its box: the keyboard reaches it to scroll.
  function scrollable() {
    var tables = document.querySelectorAll(".table");
    for (var t = 0; t < tables.length; t++) {
      if (tables[t].scrollWidth > tables[t].clientWidth + 1) {
        tables[t].tabIndex = 0;
      } else {
        tables[t].removeAttribute("tabindex");
      }
    }
  }
  scrollable();
  window.addEventListener("resize", scrollable);

  // Dialogs: a link with `data-opens` (a dialog's id) opens it over the page; without this
  // script the link leads to the page with the dialog open in place. `data-closes` in a dialog
  // closes it. One the server sent open (a mistake to correct, a step to confirm) is shown
  // over the page too.
  document.addEventListener("click", function (e) {
    var opener = e.target.closest("[data-opens]");
    var dialog = opener && document.getElementById(opener.getAttribute("data-opens"));
    if (dialog && dialog.showModal) {
      e.preventDefault();
      if (dialog.open) dialog.close();
      dialog.showModal();
      return;
    }
    var closer = e.target.closest("dialog [data-closes]");
    if (closer && closer.closest("dialog").matches(":modal")) {
      e.preventDefault();
      closer.closest("dialog").close();
    }
  });
  var shown = document.querySelectorAll("dialog[data-open]");
  for (var d = 0; d < shown.length; d++) {
    if (shown[d].showModal) {
      shown[d].close();
      shown[d].showModal();
    }
  }

  // On a phone the navigation folds into a "Menu" button (without this script it stays
  // unfolded, as on a wide screen).
  var sidebar = document.querySelector(".sidebar");
  var toggle = sidebar && sidebar.querySelector(".menu-toggle");
  if (toggle) {
    sidebar.classList.add("foldable");
    toggle.hidden = false;
    var set = function (open) {
      sidebar.classList.toggle("open", open);
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
    };
    toggle.addEventListener("click", function () {
      set(!sidebar.classList.contains("open"));
    });
    sidebar.addEventListener("keydown", function (e) {
      if (e.key === "Escape" && sidebar.classList.contains("open")) {
        set(false);
        toggle.focus();
      }
    });
  }

  // A message at the foot of the screen, read out by screen readers (the region exists before
  // its text changes, or they may not say it), gone after a few seconds.
  var said, hide;
  function say(text, error, link) {
    if (!said) {
      said = document.createElement("div");
      said.id = "said";
      said.setAttribute("role", "status");
      document.getElementById("main").appendChild(said);
    }
    clearTimeout(hide);
    said.hidden = false;
    said.className = "flash toast " + (error ? "flash-error" : "flash-success");
    setTimeout(function () {
      said.textContent = text + " ";
      if (link) {
        var a = document.createElement("a");
        a.href = link.href;
        a.textContent = link.text;
        said.appendChild(a);
      }
    }, 50);
    hide = setTimeout(function () {
      if (!said.contains(document.activeElement)) said.hidden = true;
    }, 8000);
  }

  // "Add to cart" keeps the person on the page: the cart's count and a message change in
  // place (without the script, the form posts and the cart page says it).
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (form.getAttribute("action") !== "/store/cart/items" || !window.fetch) return;
    e.preventDefault();
    var data = new FormData(form);
    var id = Number(data.get("template_id"));
    var button = form.querySelector("button[type=submit], button:not([type])");
    if (button) button.disabled = true;
    fetch("/api/cart/items", {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify({ serviceTemplateId: id, quantity: data.get("quantity") || "1" })
    })
      .then(function (r) {
        return r.json().then(
          function (body) {
            return { ok: r.ok, body: body };
          },
          function () {
            return { ok: r.ok, body: null };
          }
        );
      })
      .then(
        function (res) {
          if (button) button.disabled = false;
          if (!res.ok) {
            var error = res.body && res.body.error;
            say((error && error.message) || "That could not be added: try again.", true);
            return;
          }
          var body = res.body || {};
          var line = (body.items || []).filter(function (l) {
            return l.serviceTemplateId === id;
          })[0];
          if (typeof body.count === "number") setBadge("/store/cart", body.count, "in your cart");
          say((line ? line.title : "The service") + " is in your cart.", false, {
            href: "/store/cart",
            text: "View cart"
          });
        },
        function () {
          // No answer at all (the network): the page's own way. Only then: once the API
          // answered, posting again would add twice.
          form.submit();
        }
      );
  });
})();
