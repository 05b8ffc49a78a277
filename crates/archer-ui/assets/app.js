// Archer dashboard: the trial table (paged, sorted and filtered by the server, or sorted in
// the page in a report) and live updates that follow the study's change sequence.
// Every value from a study is put in the page as text (textContent), never as HTML.
(function () {
  "use strict";

  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }

  function fmt(v) {
    if (v === null || v === undefined) return "–";
    if (typeof v !== "number") return String(v);
    if (!isFinite(v)) return String(v);
    if (Math.abs(v) >= 1000 || v === Math.trunc(v)) return v.toFixed(0);
    return v.toFixed(4);
  }

  function markSorted(table, key, desc) {
    table.querySelectorAll("th[data-sort]").forEach(function (th) {
      th.classList.remove("sorted-asc", "sorted-desc");
      th.removeAttribute("aria-sort");
      if (th.dataset.sort === key) {
        th.classList.add(desc ? "sorted-desc" : "sorted-asc");
        th.setAttribute("aria-sort", desc ? "descending" : "ascending");
      }
    });
  }

  // A table fed by the API: `/api/s/KEY/trials?offset&limit&sort&desc&state&q`.
  function liveTable(table) {
    const api = table.dataset.api;
    const key = table.dataset.key;
    const view = { sort: "number", desc: true, offset: 0, limit: 50, q: "", state: "" };
    const pager = document.getElementById("pager");
    let pending = null;

    function render(data) {
      const body = table.tBodies[0];
      const rows = data.rows.map(function (r) {
        const tr = el("tr");
        tr.dataset.trial = r.number;
        const num = el("td", null, "num");
        const a = el("a", r.number);
        a.href = "/s/" + encodeURIComponent(key) + "/t/" + r.number;
        num.appendChild(a);
        tr.appendChild(num);
        tr.appendChild(el("td", r.state, "state"));
        const arch = el("td", null, "arch");
        arch.appendChild(el("code", r.arch));
        tr.appendChild(arch);
        tr.appendChild(el("td", r.fidelity_text));
        r.metrics.forEach(function (m) { tr.appendChild(el("td", fmt(m), "num")); });
        tr.appendChild(el("td", r.cost.toFixed(1), "num"));
        tr.appendChild(el("td", r.worker || ""));
        return tr;
      });
      body.replaceChildren.apply(body, rows);
      table.dataset.total = data.total;
      table.dataset.seq = data.seq;
      // What the table shows now, for whoever drives the page (the browser test).
      table.dataset.view = [view.sort, view.desc ? "desc" : "asc", view.state, view.q, view.offset].join(":");
      markSorted(table, view.sort, view.desc);
      pager.replaceChildren();
      const first = data.total === 0 ? 0 : view.offset + 1;
      const last = Math.min(view.offset + view.limit, data.total);
      const prev = el("button", "‹ previous");
      prev.disabled = view.offset === 0;
      prev.addEventListener("click", function () { view.offset = Math.max(0, view.offset - view.limit); load(); });
      const next = el("button", "next ›");
      next.disabled = last >= data.total;
      next.addEventListener("click", function () { view.offset += view.limit; load(); });
      pager.appendChild(prev);
      pager.appendChild(el("span", first + "–" + last + " of " + data.total, "range"));
      pager.appendChild(next);
    }

    function load() {
      const q = new URLSearchParams({
        offset: view.offset, limit: view.limit, sort: view.sort, desc: view.desc,
        state: view.state, q: view.q,
      });
      const ticket = {};
      pending = ticket;
      return fetch(api + "?" + q.toString(), { credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (data) { if (pending === ticket) render(data); })
        .catch(function () { /* the next refresh tries again */ });
    }

    table.querySelectorAll("th[data-sort]").forEach(function (th) {
      th.addEventListener("click", function () {
        if (view.sort === th.dataset.sort) view.desc = !view.desc;
        else { view.sort = th.dataset.sort; view.desc = false; }
        view.offset = 0;
        load();
      });
    });
    let timer = null;
    document.getElementById("filter").addEventListener("input", function (e) {
      clearTimeout(timer);
      timer = setTimeout(function () { view.q = e.target.value; view.offset = 0; load(); }, 250);
    });
    document.getElementById("state-filter").addEventListener("change", function (e) {
      view.state = e.target.value; view.offset = 0; load();
    });
    load();
    return load;
  }

  // A report's table: every row is in the page; sort it here.
  function staticTable(table) {
    const view = { sort: "number", desc: false };
    table.querySelectorAll("th[data-sort]").forEach(function (th, col) {
      th.addEventListener("click", function () {
        if (view.sort === th.dataset.sort) view.desc = !view.desc;
        else { view.sort = th.dataset.sort; view.desc = false; }
        const body = table.tBodies[0];
        const rows = Array.from(body.rows);
        const cell = function (r) {
          const t = r.cells[col].textContent.trim();
          const n = parseFloat(t);
          return isNaN(n) || t === "" ? t : n;
        };
        rows.sort(function (a, b) {
          const x = cell(a), y = cell(b);
          let c = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
          return view.desc ? -c : c;
        });
        body.replaceChildren.apply(body, rows);
        markSorted(table, view.sort, view.desc);
      });
    });
    const filter = document.getElementById("filter");
    const state = document.getElementById("state-filter");
    function apply() {
      const q = filter.value.toLowerCase();
      Array.from(table.tBodies[0].rows).forEach(function (r) {
        const okText = !q || r.cells[2].textContent.toLowerCase().includes(q);
        const okState = !state.value || r.cells[1].textContent === state.value;
        r.hidden = !(okText && okState);
      });
    }
    filter.addEventListener("input", apply);
    state.addEventListener("change", apply);
  }

  // Follows the study's change sequence: when it moves, the counts, the table page and
  // the charts are fetched again (never the whole study).
  function follow(key, reloadTable) {
    const summary = document.getElementById("summary");
    const charts = document.getElementById("charts");
    let seq = summary ? summary.dataset.seq : null;
    function set(id, v) { const e = document.getElementById(id); if (e) e.textContent = String(v); }
    function tick() {
      fetch("/api/s/" + encodeURIComponent(key) + "/summary", { credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (s) {
          if (String(s.seq) === String(seq)) return;
          seq = s.seq;
          summary.dataset.seq = s.seq;
          ["trials", "complete", "running", "paused", "waiting", "failed", "pruned"].forEach(function (k) {
            set("n-" + k, s[k]);
          });
          set("state", s.state);
          set("last-change", s.last_change);
          if (s.front_size !== null && s.front_size !== undefined) set("best", s.front_size + " trials");
          else set("best", fmt(s.best_value) + (s.best_trial !== null ? " (trial " + s.best_trial + ")" : ""));
          reloadTable();
          if (charts && charts.dataset.charts) {
            fetch(charts.dataset.charts, { credentials: "same-origin" })
              .then(function (r) { return r.text(); })
              // Server-rendered and escaped by the server (maud, plotters).
              .then(function (html) { charts.innerHTML = html; });
          }
        })
        .catch(function () { /* try again on the next tick */ })
        .finally(function () { setTimeout(tick, 2000); });
    }
    setTimeout(tick, 2000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    const table = document.getElementById("trial-table");
    if (!table) return;
    if (table.dataset.api) {
      const reload = liveTable(table);
      follow(table.dataset.key, reload);
    } else {
      staticTable(table);
    }
  });
})();
