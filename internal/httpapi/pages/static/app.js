// dealctx pages: sign in, choose or create a deal, sign out. Every call is a
// same-origin fetch to the JSON API; errors are shown in the page.
(function () {
  "use strict";

  // api calls the JSON API and resolves to {ok, status, data, code, message}.
  async function api(method, path, body) {
    const opts = { method: method, credentials: "same-origin", headers: { "Accept": "application/json" } };
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    let resp;
    try {
      resp = await fetch(path, opts);
    } catch (e) {
      return { ok: false, status: 0, code: "", message: "The server cannot be reached. Check your connection and try again." };
    }
    let data = null;
    if (resp.status !== 204) {
      try { data = await resp.json(); } catch (e) { data = null; }
    }
    if (resp.ok) {
      return { ok: true, status: resp.status, data: data };
    }
    const err = (data && data.error) || {};
    return {
      ok: false, status: resp.status, code: err.code || "",
      message: err.message || "Something went wrong (HTTP " + resp.status + "). Try again."
    };
  }

  function show(el, msg) {
    if (!el) { return; }
    el.textContent = msg;
    el.hidden = false;
  }

  function hide(el) {
    if (!el) { return; }
    el.textContent = "";
    el.hidden = true;
  }

  // safeNext keeps only same-site paths, so ?next= cannot send a user away.
  function safeNext(next) {
    if (typeof next !== "string" || next.charAt(0) !== "/" || next.charAt(1) === "/" || next.charAt(1) === "\\") {
      return "/";
    }
    return next;
  }

  function signInAgain() {
    window.location.assign("/login?next=" + encodeURIComponent(window.location.pathname));
  }

  function setBusy(form, busy) {
    form.querySelectorAll("button, input").forEach(function (el) { el.disabled = busy; });
  }

  function initLogin() {
    const form = document.getElementById("login-form");
    if (!form) { return; }
    const errEl = document.getElementById("login-error");
    form.addEventListener("submit", async function (ev) {
      ev.preventDefault();
      hide(errEl);
      const email = form.elements.email.value.trim();
      const password = form.elements.password.value;
      if (email === "" || password === "") {
        show(errEl, "Enter your email and password.");
        (email === "" ? form.elements.email : form.elements.password).focus();
        return;
      }
      const remember = form.elements.remember.checked;
      setBusy(form, true);
      const res = await api("POST", "/api/auth/login", { email: email, password: password, remember: remember });
      if (res.ok) {
        window.location.assign(safeNext(form.dataset.next));
        return;
      }
      setBusy(form, false);
      show(errEl, res.message);
      form.elements.password.value = "";
      form.elements.password.focus();
    });
  }

  function initSelector() {
    const pageErr = document.getElementById("page-error");
    const buttons = document.querySelectorAll("button[data-select-deal]");
    buttons.forEach(function (btn) {
      btn.addEventListener("click", async function () {
        hide(pageErr);
        buttons.forEach(function (b) { b.disabled = true; });
        const res = await api("POST", "/api/deals/" + encodeURIComponent(btn.dataset.selectDeal) + "/select");
        if (res.ok) {
          window.location.assign("/deal");
          return;
        }
        if (res.status === 401) { signInAgain(); return; }
        buttons.forEach(function (b) { b.disabled = false; });
        if (res.code === "not_found") {
          show(pageErr, "That deal is no longer available to you.");
          btn.closest("li").remove();
          return;
        }
        show(pageErr, res.message);
      });
    });

    const form = document.getElementById("create-deal-form");
    if (!form) { return; }
    const errEl = document.getElementById("create-error");
    form.addEventListener("submit", async function (ev) {
      ev.preventDefault();
      hide(errEl);
      const name = form.elements.name.value.trim();
      if (name === "") {
        show(errEl, "Enter a name for the deal.");
        form.elements.name.focus();
        return;
      }
      setBusy(form, true);
      const res = await api("POST", "/api/deals", { name: name });
      if (!res.ok) {
        if (res.status === 401) { signInAgain(); return; }
        setBusy(form, false);
        show(errEl, res.message);
        form.elements.name.focus();
        return;
      }
      // Work in the new deal at once.
      const sel = await api("POST", "/api/deals/" + res.data.deal.id + "/select");
      window.location.assign(sel.ok ? "/deal" : "/");
    });
  }

  function initLogout() {
    document.querySelectorAll("[data-action=logout]").forEach(function (btn) {
      btn.addEventListener("click", async function () {
        btn.disabled = true;
        const res = await api("POST", "/api/auth/logout");
        if (res.ok || res.status === 401) {
          window.location.assign("/login");
          return;
        }
        btn.disabled = false;
        show(document.getElementById("page-error"), res.message);
      });
    });
  }

  initLogin();
  initSelector();
  initLogout();
})();
