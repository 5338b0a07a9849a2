// The search box: pick a layer, type a unit number, go to its page (or the layer's when empty).
// The layer list comes from layers.js, a script file, so this works from file:// too.
(function () {
  "use strict";
  var layers = window.ATLAS_LAYERS || [];
  document.querySelectorAll("form.search").forEach(function (form) {
    var root = form.getAttribute("data-root") || "";
    var select = form.querySelector("select");
    var input = form.querySelector("input");
    var message = form.querySelector(".message");
    layers.forEach(function (layer) {
      var option = document.createElement("option");
      option.value = layer.slug;
      option.textContent = layer.name + " (" + layer.units + ")";
      select.appendChild(option);
    });
    if (form.getAttribute("data-layer")) select.value = form.getAttribute("data-layer");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var layer = layers.find(function (l) { return l.slug === select.value; });
      if (!layer) return;
      var text = input.value.trim();
      if (text === "") {
        window.location.href = root + "layers/" + layer.slug + ".html";
        return;
      }
      var unit = Number(text);
      if (!Number.isInteger(unit) || unit < 0 || unit >= layer.units) {
        message.textContent = layer.name + " has units 0 to " + (layer.units - 1);
        return;
      }
      message.textContent = "";
      window.location.href = root + "units/" + layer.slug + "/" + unit + ".html";
    });
  });
})();
