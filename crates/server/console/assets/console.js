// Enhancements only: every page works without this file.
"use strict";

// Copy buttons: shown only where the clipboard can be written.
document.querySelectorAll("button.copy[data-copy]").forEach((button) => {
  const field = document.getElementById(button.dataset.copy);
  if (!field || !navigator.clipboard) return;
  button.hidden = false;
  const label = button.textContent;
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(field.value);
      button.textContent = "✓ " + label;
      setTimeout(() => { button.textContent = label; }, 1500);
    } catch (_) {
      field.select();
    }
  });
});

// Certificate files dropped on their box go into its file picker.
document.querySelectorAll(".drop[data-drop]").forEach((zone) => {
  const input = document.getElementById(zone.dataset.drop);
  if (!input) return;
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    if (event.dataTransfer && event.dataTransfer.files.length) {
      input.files = event.dataTransfer.files;
    }
  });
});
