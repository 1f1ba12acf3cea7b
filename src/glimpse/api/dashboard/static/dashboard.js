// Glimpse dashboard: progressive enhancement only (every page works without it but the file upload).
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  }
  const form = document.getElementById("image-form");
  if (form) enhanceUpload(form);
  // Running Apps while Heat works on a stack: reload in a few seconds for its new status
  const busy = document.querySelector("[data-refresh]");
  if (busy) setTimeout(() => window.location.reload(), 1000 * Number(busy.dataset.refresh));
});

// Create the image, then stream the chosen file to it with a live progress bar.
function enhanceUpload(form) {
  const status = document.getElementById("upload-status");
  const box = document.getElementById("upload-progress-box");
  const bar = document.getElementById("upload-progress");
  const percent = document.getElementById("upload-percent");
  form.addEventListener("submit", async (event) => {
    const source = form.querySelector("input[name=source]:checked");
    const file = form.querySelector("input[name=file]").files[0];
    if (!source || source.value !== "file" || !file) return;  // a plain form post
    event.preventDefault();
    const csrf = form.querySelector("input[name=csrf_token]").value;
    const body = new URLSearchParams(new FormData(form));
    body.delete("file");
    status.textContent = "Creating the image…";
    const created = await fetch(form.action, {
      method: "POST", body, credentials: "same-origin",
      headers: { "Accept": "application/json" },
    });
    const answer = await created.json().catch(() => ({}));
    if (!created.ok) { status.textContent = answer.error || `Failed (${created.status})`; return; }
    box.hidden = false;
    status.textContent = "Uploading…";
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", answer.upload);
    xhr.setRequestHeader("X-CSRF-Token", csrf);
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", (e) => {
      if (!e.lengthComputable) return;
      const value = Math.floor((e.loaded / e.total) * 100);
      bar.value = value;
      percent.textContent = `${value}%`;
    });
    xhr.addEventListener("load", () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        bar.value = 100;
        percent.textContent = "100%";
        status.textContent = "Uploaded.";
        window.location.assign(answer.page);
      } else {
        let message = `Upload failed (${xhr.status})`;
        try { message = JSON.parse(xhr.responseText).error || message; } catch (e) { /* not JSON */ }
        status.textContent = message;
      }
    });
    xhr.addEventListener("error", () => { status.textContent = "Upload failed: the connection broke."; });
    xhr.send(file);
  });
}
