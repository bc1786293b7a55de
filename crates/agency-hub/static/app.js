// Small enhancements of pages that work without them.
(function () {
  "use strict";

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

  // The cart's count wherever it shows.
  function setCartCount(n) {
    var places = document.querySelectorAll("[data-cart-link]");
    for (var i = 0; i < places.length; i++) {
      var badge = places[i].querySelector(".nav-badge");
      if (!badge) {
        badge = document.createElement("span");
        badge.className = "nav-badge";
        if (places[i].closest("nav")) badge.setAttribute("data-badge", "/store/cart");
        places[i].appendChild(document.createTextNode(" "));
        places[i].appendChild(badge);
      }
      badge.textContent = String(n);
      badge.setAttribute("aria-label", n + " in your cart");
      badge.hidden = n === 0;
    }
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
        return r.json().then(function (body) {
          if (!r.ok) {
            say((body.error && body.error.message) || "That could not be added.", true);
            return;
          }
          var line = (body.items || []).filter(function (l) {
            return l.serviceTemplateId === id;
          })[0];
          setCartCount(body.count);
          say((line ? line.title : "The service") + " is in your cart.", false, {
            href: "/store/cart",
            text: "View cart"
          });
        });
      })
      .catch(function () {
        // Something between us failed: the page's own way.
        form.submit();
      })
      .then(function () {
        if (button) button.disabled = false;
      });
  });
})();
