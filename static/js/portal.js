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

// The entry form's live learner check: <form data-learner-check="url" data-id-length="6">.
// As soon as the ABIM ID and the birth date are typed, the roster's answer shows under the
// fields, before anything is saved.
document.querySelectorAll("form[data-learner-check]").forEach((form) => {
  const out = form.querySelector("#learner-check");
  const field = (name) => form.elements[name];
  const idLength = Number(form.dataset.idLength || 6);
  let timer = null;
  let asked = "";
  const show = (tone, message) => {
    out.className = `alert py-2 small alert-${tone}`;
    out.textContent = message;
    out.hidden = false;
  };
  const check = () => {
    const values = {
      learner_id: field("learner_id").value.trim(),
      birth_month: field("birth_month").value,
      birth_day: field("birth_day").value.trim(),
      first_name: field("first_name").value.trim(),
      last_name: field("last_name").value.trim(),
    };
    const ready = new RegExp(`^\\d{${idLength}}$`).test(values.learner_id)
      && values.birth_month && /^\d{1,2}$/.test(values.birth_day);
    if (!ready) {
      out.hidden = true;
      asked = "";
      return;
    }
    const key = JSON.stringify(values);
    if (key === asked) {
      return;
    }
    asked = key;
    const body = new FormData();
    body.append("csrfmiddlewaretoken", form.querySelector("[name=csrfmiddlewaretoken]").value);
    Object.entries(values).forEach(([name, value]) => body.append(name, value));
    fetch(form.dataset.learnerCheck, { method: "POST", body, credentials: "same-origin" })
      .then((response) => response.json())
      .then((answer) => { if (asked === key) { show(answer.tone, answer.message); } })
      .catch(() => { out.hidden = true; });
  };
  ["learner_id", "birth_month", "birth_day", "first_name", "last_name"].forEach((name) => {
    const element = field(name);
    if (!element) {
      return;
    }
    element.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(check, 300);
    });
    element.addEventListener("change", check);
  });
});

// A field marked autofocus gets the cursor even when the address has a #fragment (Chromium
// then skips autofocus): after "Save and add another", the ABIM ID field of the next entry.
const autofocus = () => {
  const wanted = document.querySelector("[autofocus]");
  if (wanted && document.activeElement !== wanted) {
    wanted.focus();
  }
};
autofocus();
window.addEventListener("load", () => setTimeout(autofocus, 0));

// An upload being checked or saved: its page watches the upload's state (a small JSON
// answer), moves the progress bar, and shows the next step (preview, result) as soon as
// it is there. It asks every data-interval ms at first (a short file is done within a
// second or two), 5% less often at each answer, at most once a second (a long one takes
// minutes). Without script the page reloads itself every 2 s.
const watched = document.querySelector("[data-upload-watch]");
if (watched) {
  let interval = Number(watched.dataset.interval || 100);
  const bar = watched.querySelector(".progress-bar");
  const rows = watched.querySelector("#upload-progress-rows");
  const tick = () => {
    fetch(watched.dataset.uploadWatch, {
      credentials: "same-origin", headers: { Accept: "application/json" },
    })
      .then((response) => response.json())
      .then((state) => {
        if (state.status !== watched.dataset.status) {
          window.location.reload();
          return;
        }
        if (bar && state.total) {
          bar.style.width = `${state.percent}%`;
          bar.parentElement.setAttribute("aria-valuenow", state.percent);
        }
        if (rows) {
          rows.textContent = state.total ? `${state.processed} of ${state.total}` : `${state.processed}`;
        }
        interval = Math.min(1000, interval * 1.05);
        setTimeout(tick, interval);
      })
      .catch(() => setTimeout(tick, 2000));
  };
  setTimeout(tick, interval);
}
