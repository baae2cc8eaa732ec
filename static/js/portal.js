// The portal's few behaviours, from this file only (the Content-Security-Policy allows no
// inline script).
"use strict";

// An irreversible one-click action asks first: <form data-confirm="…">.
document.addEventListener("submit", (event) => {
  const question = event.target.dataset && event.target.dataset.confirm;
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});

// A copy button: <button data-copy="id-of-the-element-to-copy">.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) {
    return;
  }
  const text = document.getElementById(button.dataset.copy).innerText.trim();
  navigator.clipboard.writeText(text).then(
    () => { button.textContent = "Copied"; },
    () => { button.textContent = "Select the key and copy it"; },
  );
});
