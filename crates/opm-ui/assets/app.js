// OPM UI: the one script. It streams playground runs (buttons with data-stream="ID") into the
// element ID; without it, the same buttons submit the form and the server answers with a page.
// Loaded from this origin only (Content-Security-Policy script-src 'self'); no inline handlers.
"use strict";

function el(tag, attrs, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function summaryList(summary) {
  const dl = el("dl", { class: "summary" });
  const tokens = (n) => (n === null || n === undefined ? "unknown" : String(n));
  const rows = [
    ["Generation", summary.generation_id],
    ["Model", `${summary.provider} / ${summary.model}`],
    ["Tokens in / out", `${tokens(summary.input_tokens)} / ${tokens(summary.output_tokens)}`],
    ["Cost", summary.cost_usd === null || summary.cost_usd === undefined ? "unknown" : `$${summary.cost_usd.toFixed(6)}`],
    ["Latency", summary.latency_ms === null || summary.latency_ms === undefined ? "" : `${summary.latency_ms.toFixed(1)} ms`],
  ];
  if (summary.prompt_version) rows.splice(2, 0, ["Version", `v${summary.prompt_version}`]);
  if (summary.ttft_ms) rows.push(["First token", `${summary.ttft_ms.toFixed(1)} ms`]);
  for (const [k, v] of rows) {
    dl.append(el("dt", {}, k));
    const dd = el("dd");
    if (k === "Generation") dd.append(el("code", { class: "generation-id" }, v)); else dd.textContent = v;
    dl.append(dd);
  }
  return dl;
}

function feedbackForm(csrf, generationId) {
  const form = el("form", { class: "feedback", method: "post", action: "/ui/feedback" });
  form.append(el("input", { type: "hidden", name: "csrf", value: csrf }));
  form.append(el("input", { type: "hidden", name: "generation_id", value: generationId }));
  const set = el("fieldset");
  set.append(el("legend", {}, "Feedback on this answer"));
  for (const [value, text, checked] of [["1", " Good (1)", true], ["0", " Bad (0)", false]]) {
    const label = el("label", { class: "check" });
    const input = el("input", { type: "radio", name: "score", value });
    if (checked) input.checked = true;
    label.append(input, document.createTextNode(text));
    set.append(label);
  }
  const comment = el("label", {}, "Comment ");
  comment.append(el("input", { type: "text", name: "comment" }));
  set.append(comment, el("button", { type: "submit" }, "Send feedback"));
  form.append(set);
  return form;
}

async function streamRun(button, event) {
  event.preventDefault();
  const form = button.form;
  const out = document.getElementById(button.dataset.stream);
  const data = new FormData(form);
  if (button.name) data.set(button.name, button.value);
  out.replaceChildren();
  const answer = el("pre", { class: "answer", "aria-busy": "true" });
  const status = el("p", { class: "hint" }, "Running…");
  out.append(status, answer);
  button.disabled = true;
  try {
    const response = await fetch(button.getAttribute("formaction") || form.action, {
      method: "POST",
      body: new URLSearchParams(data),
      headers: { "x-opm-ui-stream": "1" },
      credentials: "same-origin",
    });
    if (!response.ok || !response.body) throw new Error(`the server answered ${response.status}`);
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let name = "message";
        let payload = "";
        for (const line of frame.split("\n")) {
          if (line.startsWith("event:")) name = line.slice(6).trim();
          else if (line.startsWith("data:")) payload += line.slice(5).trim();
        }
        const value = payload ? JSON.parse(payload) : null;
        if (name === "delta") answer.textContent += value;
        else if (name === "error") {
          const box = el("div", { class: "notice error", role: "alert" });
          box.append(el("strong", {}, "Error: "), document.createTextNode(value));
          out.prepend(box);
          status.textContent = "Failed.";
        } else if (name === "done") {
          status.textContent = "Done.";
          out.append(summaryList(value), feedbackForm(data.get("csrf"), value.generation_id));
        }
      }
    }
  } catch (error) {
    const box = el("div", { class: "notice error", role: "alert" });
    box.append(el("strong", {}, "Error: "), document.createTextNode(String(error.message || error)));
    out.prepend(box);
  } finally {
    answer.setAttribute("aria-busy", "false");
    button.disabled = false;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  for (const button of document.querySelectorAll("button[data-stream]")) {
    button.addEventListener("click", (event) => streamRun(button, event));
  }
});
