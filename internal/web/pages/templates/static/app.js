// dealctx pages: every action is a plain form or link that works without
// this script. It only enhances: it checks for empty fields before a form
// is sent, and stops a form from being sent twice.
(function () {
  "use strict";

  document.documentElement.classList.add("js");

  function show(el, msg) {
    if (!el) { return; }
    el.textContent = msg;
    el.hidden = false;
  }

  // guard checks a form's required fields before it is submitted: an empty
  // one shows msg in errEl and keeps the form on the page.
  function guard(formId, errId, fields, msg) {
    const form = document.getElementById(formId);
    if (!form) { return; }
    const errEl = document.getElementById(errId);
    let sent = false;
    form.addEventListener("submit", function (ev) {
      if (sent) { ev.preventDefault(); return; }
      for (const name of fields) {
        const el = form.elements[name];
        if (el && el.value.trim() === "") {
          ev.preventDefault();
          show(errEl, msg);
          el.focus();
          return;
        }
      }
      sent = true;
    });
  }

  guard("login-form", "login-error", ["email", "password"], "Enter your email and password.");
  guard("create-deal-form", "create-error", ["name"], "Enter a name for the deal.");
})();
