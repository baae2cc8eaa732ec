// The reviewers' admin (templates/admin/base_site.html).
"use strict";

// Autocomplete boxes (select2) are named by their field's label and then the chosen value
// ("Activity 100000001 Hypertension Update"), not by the value alone; select2's nameless
// read-only text box inside becomes plain text.
const nameAutocompletes = (root) => {
  root.querySelectorAll("select.admin-autocomplete").forEach((select) => {
    const label = document.querySelector(`label[for="${select.id}"]`);
    const box = select.nextElementSibling && select.nextElementSibling.querySelector(".select2-selection");
    const shown = document.getElementById(`select2-${select.id}-container`);
    if (!box) {
      return;
    }
    if (shown) {
      shown.removeAttribute("role");
      shown.removeAttribute("aria-readonly");
    }
    // The field's label, or (in a table row) the select's own aria-label, then the value.
    let name = select.getAttribute("aria-label") ? select.id : null;
    if (label) {
      label.id = label.id || `${select.id}-label`;
      name = label.id;
    }
    if (name) {
      box.setAttribute("aria-labelledby", shown ? `${name} ${shown.id}` : name);
    }
  });
};
// Django's autocomplete.js makes the boxes when jQuery is ready; this script comes later
// (deferred), so its ready handler runs after that one.
if (window.django && window.django.jQuery) {
  window.django.jQuery(() => nameAutocompletes(document));
}
document.addEventListener("formset:added", (event) => {
  setTimeout(() => nameAutocompletes(event.target), 0);
});
