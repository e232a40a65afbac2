// Progressive enhancement: the people search suggests accounts as you type. Everything
// works without it through the plain search form.
"use strict";
document.querySelectorAll("input[data-people]").forEach((input) => {
  const list = document.getElementById(input.getAttribute("list"));
  let pending = null;
  input.addEventListener("input", () => {
    clearTimeout(pending);
    const term = input.value.split(",").pop().trim();
    if (term.length < 2) return;
    pending = setTimeout(async () => {
      const url = input.dataset.people + "?q=" + encodeURIComponent(term);
      const reply = await fetch(url, { credentials: "same-origin" });
      if (!reply.ok) return;
      const people = await reply.json();
      list.replaceChildren(...people.map((p) => {
        const option = document.createElement("option");
        option.value = p.uri;
        option.textContent = p.display;
        return option;
      }));
    }, 250);
  });
});
