// Slipway web UI: makes server-rendered pages live. Every page works without it.
"use strict";
(function () {
  // Pages with #live[data-live]: follow run states, then refetch this page and swap #live.
  const live = document.getElementById("live");
  if (live && window.EventSource) {
    const run = live.dataset.live;
    const url = "/api/v1/events/runs" + (run ? "?run=" + encodeURIComponent(run) : "");
    const source = new EventSource(url);
    let first = true;
    let busy = false;
    let again = false;
    const refresh = async () => {
      if (busy) { again = true; return; }
      busy = true;
      try {
        const response = await fetch(location.href, { credentials: "same-origin" });
        if (response.ok) {
          const doc = new DOMParser().parseFromString(await response.text(), "text/html");
          const fresh = doc.getElementById("live");
          const current = document.getElementById("live");
          if (fresh && current) {
            const open = new Set([...current.querySelectorAll("details[open]")].map((d) => d.parentElement && d.parentElement.id));
            const focused = document.activeElement && document.activeElement.closest("#live form");
            if (!focused) {
              current.replaceWith(fresh);
              fresh.querySelectorAll("section.job").forEach((s) => {
                const d = s.querySelector("details");
                if (d && open.has(s.id)) d.open = true;
              });
            }
          }
        }
      } finally {
        busy = false;
        if (again) { again = false; refresh(); }
      }
    };
    source.addEventListener("state", () => {
      if (first) { first = false; return; }
      refresh();
    });
  }

  // Log pages.
  const log = document.getElementById("log");
  if (!log) return;
  const base = "/runs/" + log.dataset.run + "/jobs/" + log.dataset.job;
  let loading = false;
  const more = async () => {
    if (loading) return;
    loading = true;
    try {
      const next = Number(log.dataset.next);
      const response = await fetch(base + "/lines?from=" + next, { credentials: "same-origin" });
      if (!response.ok) return;
      const html = await response.text();
      const following = document.getElementById("follow");
      const atBottom = window.innerHeight + window.scrollY >= document.body.scrollHeight - 40;
      if (html) log.insertAdjacentHTML("beforeend", html);
      trim();
      log.dataset.next = response.headers.get("x-next-line") || next;
      log.dataset.total = response.headers.get("x-total-lines") || log.dataset.total;
      const later = document.getElementById("later");
      if (later && Number(log.dataset.next) > Number(log.dataset.total)) later.remove();
      if (html && following && following.checked && atBottom) window.scrollTo(0, document.body.scrollHeight);
      highlight();
    } finally {
      loading = false;
    }
  };
  // Windowed rendering: past MAX_ROWS rows the oldest leave the page (the "Earlier lines" link
  // brings them back from the server), so a huge log keeps a small DOM.
  const MAX_ROWS = 6000;
  function trim() {
    const rows = log.children;
    const extra = rows.length - MAX_ROWS;
    if (extra <= 0) return;
    for (let i = 0; i < extra; i++) log.firstElementChild.remove();
    const first = Number(log.firstElementChild.id.slice(1));
    log.dataset.first = first;
    let earlier = document.getElementById("earlier");
    if (!earlier) {
      const p = document.createElement("p");
      earlier = document.createElement("a");
      earlier.id = "earlier";
      earlier.textContent = "↑ Earlier lines";
      p.appendChild(earlier);
      log.before(p);
    }
    earlier.href = "?from=" + Math.max(1, first - 1000);
  }
  // Load later lines as the end comes into view.
  const end = document.getElementById("log-end");
  if (end && window.IntersectionObserver) {
    new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting) && Number(log.dataset.next) <= Number(log.dataset.total)) more();
    }).observe(end);
  }
  // Live follow: the JSON log stream says when lines arrive (it resumes by itself with
  // Last-Event-ID after a reconnect); the rendered lines come from the server.
  if (log.dataset.completed !== "true" && window.EventSource) {
    const stream = new EventSource("/api/v1/runs/" + log.dataset.run + "/jobs/" + log.dataset.job + "/logs?follow=1&offset=" + log.dataset.bytes);
    let timer = null;
    const soon = () => { if (!timer) timer = setTimeout(() => { timer = null; more(); }, 150); };
    stream.addEventListener("log", soon);
    stream.addEventListener("end", () => { stream.close(); log.dataset.completed = "true"; setTimeout(more, 200); });
  }
  // Timestamps: the link reloads with ?ts=1 without the script; with it, "t" or the link
  // flips them in place (the rows always carry their times) and the URL follows.
  const stamps = document.getElementById("timestamps");
  function toggleTimestamps() {
    const on = log.classList.toggle("show-ts");
    stamps.textContent = on ? "Hide timestamps" : "Show timestamps";
    stamps.setAttribute("aria-checked", String(on));
    const params = new URLSearchParams(location.search);
    if (on) params.set("ts", "1"); else params.delete("ts");
    const search = params.toString();
    history.replaceState(null, "", location.pathname + (search ? "?" + search : "") + location.hash);
    const flipped = new URLSearchParams(params);
    if (on) flipped.delete("ts"); else flipped.set("ts", "1");
    stamps.href = "?" + flipped.toString();
  }
  if (stamps) stamps.addEventListener("click", (event) => { event.preventDefault(); toggleTimestamps(); });
  // Line links: #L12 or #L12-L20; shift-click a number to pick a range.
  let anchor = null;
  function highlight() {
    log.querySelectorAll(".l.hl").forEach((row) => row.classList.remove("hl"));
    const m = /^#L(\d+)(?:-L?(\d+))?$/.exec(location.hash);
    if (!m) return;
    const from = Number(m[1]);
    const to = m[2] ? Number(m[2]) : from;
    for (let n = Math.min(from, to); n <= Math.max(from, to); n++) {
      const row = document.getElementById("L" + n);
      if (row) row.classList.add("hl");
    }
    return document.getElementById("L" + from);
  }
  function goToHash(scroll) {
    const m = /^#L(\d+)/.exec(location.hash);
    if (!m) return;
    const row = highlight();
    if (!row) {
      // Not in this window: ask the server for the window around it (once).
      if (new URLSearchParams(location.search).get("line") !== m[1]) location.replace("?line=" + m[1] + location.hash);
      return;
    }
    if (scroll) row.scrollIntoView({ block: "center" });
  }
  log.addEventListener("click", (event) => {
    const number = event.target.closest("a.n");
    if (number) {
      event.preventDefault();
      const n = Number(number.textContent);
      const hash = event.shiftKey && anchor ? "#L" + Math.min(anchor, n) + "-L" + Math.max(anchor, n) : "#L" + n;
      if (!event.shiftKey) anchor = n;
      history.replaceState(null, "", location.pathname + location.search + hash);
      highlight();
      return;
    }
    const row = event.target.closest(".l.step, .l.group");
    if (row && !event.target.closest("a")) fold(row);
  });
  // Folding: a step runs to the next step, a group to its end.
  function fold(row) {
    const folded = row.classList.toggle("folded");
    const isStep = row.classList.contains("step");
    let depth = 0;
    for (let next = row.nextElementSibling; next; next = next.nextElementSibling) {
      if (isStep && (next.classList.contains("step") || next.classList.contains("step-end"))) break;
      if (!isStep) {
        if (next.classList.contains("group")) depth++;
        if (next.classList.contains("endgroup")) { if (depth === 0) { next.classList.toggle("hidden", folded); break; } depth--; }
      }
      next.classList.toggle("hidden", folded);
    }
  }
  window.addEventListener("hashchange", () => goToHash(true));
  goToHash(true);
  // Keyboard: "/" search, "g"/"G" top/bottom, "n"/"p" next/previous match, "f" follow,
  // "t" timestamps.
  const matches = [...document.querySelectorAll("a.match")];
  let current = -1;
  document.addEventListener("keydown", (event) => {
    if (event.target.closest("input, textarea, select") || event.metaKey || event.ctrlKey || event.altKey) return;
    if (event.key === "/") { event.preventDefault(); document.getElementById("log-search").focus(); }
    else if (event.key === "g") window.scrollTo(0, 0);
    else if (event.key === "G") window.scrollTo(0, document.body.scrollHeight);
    else if (event.key === "f") { const f = document.getElementById("follow"); f.checked = !f.checked; }
    else if (event.key === "t" && stamps) toggleTimestamps();
    else if ((event.key === "n" || event.key === "p") && matches.length) {
      current = (current + (event.key === "n" ? 1 : matches.length - 1)) % matches.length;
      matches[current].click();
    }
  });
})();
