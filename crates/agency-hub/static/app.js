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
})();
