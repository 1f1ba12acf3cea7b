// Glimpse dashboard, the install page: follow the install task every second until it succeeds or fails.
// Without this script the page reloads itself (a <noscript> meta refresh) while the task runs.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const box = document.getElementById("install");
  if (!box || box.dataset.finished === "true") return;
  const bar = document.getElementById("install-progress");
  const percent = document.getElementById("install-percent");
  const status = document.getElementById("install-status");
  const done = document.getElementById("install-done");
  const link = document.getElementById("install-link");
  const say = (text, state) => {
    if (status.textContent !== text) status.textContent = text;  // the live region speaks only on a change
    status.dataset.state = state;
    status.className = state === "failure" || state === "error" ? "error" : "note";
  };
  const poll = async () => {
    let answer;
    let view;
    try {
      answer = await fetch(box.dataset.statusUrl, {
        credentials: "same-origin", headers: { "Accept": "application/json" }, cache: "no-store",
      });
      view = await answer.json();
    } catch (e) {
      say("Lost contact with the server; trying again…", "retrying");
      setTimeout(poll, 1000);
      return;
    }
    if (!answer.ok) {  // signed out, or the task is gone: stop and say why
      say(view.error || `The install could not be followed (${answer.status}).`, "error");
      return;
    }
    bar.value = view.percent;
    percent.textContent = `${view.percent}%`;
    say(view.status_text, view.status);
    if (!view.finished) {
      setTimeout(poll, 1000);
      return;
    }
    box.dataset.finished = "true";
    if (view.link) {
      link.href = view.link;
      done.hidden = false;
    }
  };
  setTimeout(poll, 1000);
});
