// capsim serve: the page. Vanilla JS, no build step; uPlot (vendored) draws the charts.
// The HTTP contract it talks to is described in src/serve/ (GET /api/scenarios, POST /api/check,
// POST /api/runs + SSE /api/runs/{id}/events, GET /api/folders...).
(function () {
  "use strict";

  const $ = (sel, root) => (root || document).querySelector(sel);
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));
  const DAY = 86400;

  const state = {
    scenarios: [],
    scenario: null, // detail of the chosen scenario
    fieldEdits: new Map(), // field path -> value (string)
    policyEdits: new Map(), // policy name -> {from, until, enabled}
    added: [], // TOML bodies of added [[policy]] entries
    checkSeq: 0,
    runs: new Map(), // id -> run of this tab
    runSeq: 0,
    drawnSeq: 0,
    folders: [],
    view: { kind: "none" }, // {kind: "live", run} | {kind: "folder", name, compare}
    plots: new Map(), // chart name -> {section, panels:[...]}
    lastCharts: null,
  };
  // For tests and the curious: the last run's timings and the state.
  window.capsim = { state, timings: null, fmt: (v, unit) => fmt(v, unit) };

  // ---------------------------------------------------------------- formatting

  function trimNum(x) {
    const a = Math.abs(x);
    let s;
    if (a === 0) return "0";
    if (a >= 100) s = x.toFixed(0);
    else if (a >= 10) s = x.toFixed(1);
    else if (a >= 1) s = x.toFixed(2);
    else if (a >= 0.001) s = x.toPrecision(2);
    else return x.toExponential(1).replace("e-", "e\u2212");
    if (s.indexOf(".") >= 0) s = s.replace(/\.?0+$/, "");
    return s;
  }
  function si(v) {
    const a = Math.abs(v);
    // From a thousand trillion, scientific with three digits, as report.html writes it (7.62e17).
    if (a >= 0.9995e15) {
      const [m, e] = v.toExponential(2).split("e");
      return trimNum(Number(m)) + "e" + Number(e);
    }
    const steps = [[1e12, "T"], [1e9, "B"], [1e6, "M"], [1e3, "k"]];
    for (const [d, s] of steps) if (a >= d) return trimNum(v / d) + s;
    return trimNum(v);
  }
  function fmt(v, unit) {
    if (v == null || !isFinite(v)) return "\u2013";
    const neg = v < 0 ? "\u2212" : "";
    const a = Math.abs(v);
    if (unit === "usd") return neg + "$" + si(a);
    if (unit === "percent") return neg + trimNum(a * 100) + "%";
    return neg + si(a);
  }
  function fmtSigned(v, unit) {
    if (v == null || !isFinite(v)) return "\u2013";
    return (v > 0 ? "+" : "") + fmt(v, unit);
  }
  function dayOf(iso) {
    const [y, m, d] = iso.slice(0, 10).split("-").map(Number);
    return Date.UTC(y, m - 1, d) / 1000 / DAY;
  }
  function isoOfDay(day) {
    return new Date(Math.round(day) * DAY * 1000).toISOString().slice(0, 10);
  }
  function isoOfTs(ts) {
    return new Date(ts * 1000).toISOString().slice(0, 10);
  }
  const tzDate = (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC");

  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    if (attrs) {
      for (const [k, v] of Object.entries(attrs)) {
        if (v == null || v === false) continue;
        if (k === "class") e.className = v;
        else if (k === "text") e.textContent = v;
        else if (k === "dataset") Object.assign(e.dataset, v);
        else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
        else if (v === true) e.setAttribute(k, "");
        else e.setAttribute(k, v);
      }
    }
    for (const k of kids.flat()) {
      if (k == null) continue;
      e.append(k instanceof Node ? k : document.createTextNode(String(k)));
    }
    return e;
  }

  function showMessage(text, kind) {
    const m = $("#message");
    if (!text) {
      m.hidden = true;
      m.textContent = "";
      return;
    }
    m.hidden = false;
    m.className = "message " + (kind || "error");
    m.textContent = text;
  }

  // ---------------------------------------------------------------- HTTP

  async function api(method, url, body) {
    const opts = { method, headers: {} };
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(url, opts);
    } catch (e) {
      throw Object.assign(new Error("The capsim server cannot be reached (" + e.message + ")."), { status: 0 });
    }
    let data = null;
    const text = await res.text();
    try {
      data = text ? JSON.parse(text) : null;
    } catch (e) {
      data = { error: text };
    }
    if (!res.ok) {
      const err = new Error((data && data.error) || res.status + " " + res.statusText);
      err.status = res.status;
      err.data = data;
      throw err;
    }
    return data;
  }
  const enc = encodeURIComponent;

  // ---------------------------------------------------------------- scenarios

  async function loadScenarios() {
    const data = await api("GET", "/api/scenarios");
    state.scenarios = data.scenarios || [];
    const sel = $("#scenario");
    sel.replaceChildren(
      ...state.scenarios.map((s) =>
        el("option", { value: s.id, text: s.name + (s.file ? "  (" + s.file + ")" : "  (built in)") })
      )
    );
    const want = new URLSearchParams(location.search).get("scenario");
    if (want && state.scenarios.some((s) => s.id === want)) sel.value = want;
    if (sel.value) await chooseScenario(sel.value);
  }

  async function chooseScenario(id) {
    const sc = await api("GET", "/api/scenarios/" + enc(id));
    state.scenario = sc;
    state.fieldEdits.clear();
    state.policyEdits.clear();
    state.added = [];
    $("#scenario-description").textContent = sc.description || "";
    $("#scenario-meta").textContent =
      sc.start_date + " to " + sc.end_date + " \u00b7 seed " + sc.seed + (sc.file ? " \u00b7 " + sc.file : " \u00b7 built in");
    const period = $("#period");
    const prev = period.value || "month";
    period.replaceChildren(...(sc.periods || ["month"]).map((p) => el("option", { value: p, text: p })));
    period.value = (sc.periods || []).includes(prev) ? prev : (sc.periods || ["month"]).includes("month") ? "month" : period.options[0].value;
    renderPolicies();
    renderFields();
    renderEdits();
    clearErrors();
  }

  // ---------------------------------------------------------------- policies

  function quoteSeg(name) {
    return /^[A-Za-z0-9_-]+$/.test(name) ? name : '"' + name.replace(/\\/g, "\\\\").replace(/"/g, '\\"') + '"';
  }

  function parseAdded(toml) {
    const get = (k) => {
      const m = new RegExp("^\\s*" + k + "\\s*=\\s*(.+?)\\s*$", "m").exec(toml);
      if (!m) return null;
      return m[1].replace(/^"(.*)"$/, "$1").replace(/\s*#.*$/, "");
    };
    return {
      name: get("name") || "(unnamed rule)",
      rule: get("rule") || "?",
      from: (get("from") || "").slice(0, 10),
      until: get("until") ? get("until").slice(0, 10) : null,
      enabled: true,
      summary: (get("rule") || "?") + " (added here)",
      added: true,
    };
  }

  // The scenario's rules with this page's edits applied, then the added ones.
  function effectivePolicies() {
    const sc = state.scenario;
    if (!sc) return [];
    const out = (sc.policies || []).map((p) => {
      const e = state.policyEdits.get(p.name) || {};
      return Object.assign({}, p, {
        from: e.from != null ? e.from : p.from,
        until: e.until != null ? e.until : p.until,
        enabled: e.enabled != null ? e.enabled : p.enabled,
        moved: e.from != null || e.until != null,
      });
    });
    state.added.forEach((t, i) => out.push(Object.assign(parseAdded(t), { addedIndex: i })));
    return out;
  }

  function policyEdit(name, key, value) {
    const p = state.scenario.policies.find((q) => q.name === name);
    const e = Object.assign({}, state.policyEdits.get(name) || {});
    const orig = key === "enabled" ? p.enabled : p[key] || null;
    if (value === orig || (value === "" && key !== "enabled")) delete e[key];
    else e[key] = value;
    if (Object.keys(e).length) state.policyEdits.set(name, e);
    else state.policyEdits.delete(name);
    const row = $('#policies [data-policy="' + CSS.escape(name) + '"]');
    if (row) {
      const on = e.enabled != null ? e.enabled : p.enabled;
      row.classList.toggle("edited", state.policyEdits.has(name));
      row.classList.toggle("off", !on);
      $(".policy-note", row).textContent = !on && (e.from != null || e.until != null)
        ? "Switched off: its new dates apply once it is ticked." : "";
    }
    renderTimeline();
    renderEdits();
  }

  function renderPolicies() {
    const list = $("#policies");
    const sc = state.scenario;
    const min = sc.start_date, max = sc.end_date;
    list.replaceChildren();
    (sc.policies || []).forEach((p, i) => {
      const id = "pol-" + i;
      const enabled = el("input", {
        type: "checkbox",
        id: id + "-on",
        "data-role": "enabled",
        "aria-label": "Rule " + p.name + " in force",
        title: "Switch the rule on or off",
      });
      enabled.checked = p.enabled;
      enabled.addEventListener("change", () => {
        policyEdit(p.name, "enabled", enabled.checked);
        scheduleCheck(0);
      });
      const from = el("input", {
        type: "date",
        id: id + "-from",
        "data-role": "from",
        "data-field": "policy." + p.name + ".from",
        value: p.from ? p.from.slice(0, 10) : "",
        "aria-describedby": id + "-err",
      });
      const until = el("input", {
        type: "date",
        id: id + "-until",
        "data-role": "until",
        "data-field": "policy." + p.name + ".until",
        value: p.until ? p.until.slice(0, 10) : "",
        "aria-describedby": id + "-err",
      });
      for (const inp of [from, until]) {
        inp.min = "1990-01-01";
        inp.max = "2100-12-31";
        inp.title = "Horizon: " + min + " to " + max;
        inp.addEventListener("change", () => {
          const key = inp.dataset.role;
          if (key === "until" && !inp.value && p.until) {
            // A field cannot be taken out of a file by a setting; an end date on the horizon's
            // last day is the same rule as none within the run.
            inp.value = max;
            inp.title = "Cleared: in force to the end of the horizon (" + max + ")";
          }
          policyEdit(p.name, key, inp.value);
          scheduleCheck(0);
        });
      }
      const reset = el("button", {
        type: "button",
        class: "icon",
        title: "Undo the edits of " + p.name,
        "aria-label": "Undo the edits of " + p.name,
        text: "\u21ba",
        onclick: () => {
          state.policyEdits.delete(p.name);
          enabled.checked = p.enabled;
          from.value = p.from ? p.from.slice(0, 10) : "";
          until.value = p.until ? p.until.slice(0, 10) : "";
          policyEdit(p.name, "from", from.value);
          scheduleCheck(0);
        },
      });
      const row = el(
        "li",
        { class: "policy" + (p.enabled ? "" : " off"), "data-policy": p.name, title: p.source || "" },
        el("div", { class: "policy-head" },
          enabled,
          el("label", { for: id + "-on", class: "policy-name" }, el("span", { class: "num", text: String(i + 1) }), p.name),
          reset),
        el("div", { class: "policy-summary muted small", text: p.summary || p.rule }),
        el("div", { class: "policy-dates" },
          el("label", { for: id + "-from", text: "from" }), from,
          el("label", { for: id + "-until", text: "until" }), until),
        el("p", { class: "policy-note", "aria-live": "polite" }),
        el("p", { class: "field-error", id: id + "-err", "data-error-for": "policy." + p.name })
      );
      list.append(row);
    });
    renderAdded();
    renderTimeline();
  }

  function renderAdded() {
    const list = $("#policies");
    $$("li.added", list).forEach((n) => n.remove());
    state.added.forEach((t, i) => {
      const p = parseAdded(t);
      list.append(
        el("li", { class: "policy added", "data-policy": p.name },
          el("div", { class: "policy-head" },
            el("span", { class: "policy-name" }, el("span", { class: "num", text: "+" }), p.name),
            el("button", {
              type: "button",
              class: "icon",
              "aria-label": "Remove the added rule " + p.name,
              title: "Remove this added rule",
              text: "\u2715",
              onclick: () => {
                state.added.splice(i, 1);
                renderAdded();
                renderTimeline();
                renderEdits();
                scheduleCheck(0);
              },
            })),
          el("pre", { class: "policy-toml small", text: t }),
          el("p", { class: "field-error", "data-error-for": "policy." + p.name }))
      );
    });
  }

  async function addPolicy() {
    const ta = $("#add-policy-text");
    const text = ta.value.trim();
    const err = $("#add-policy-error");
    err.textContent = "";
    if (!text) {
      err.textContent = "Write the TOML of one [[policy]] entry first (see the example in the box).";
      return;
    }
    try {
      const res = await checkWith(setEntries(), state.added.concat([text]));
      if (res.ok === false) {
        err.textContent = res.errors.map((e) => e.message).join("\n");
        return;
      }
    } catch (e) {
      err.textContent = e.message;
      return;
    }
    state.added.push(text);
    ta.value = "";
    renderAdded();
    renderTimeline();
    renderEdits();
    scheduleCheck(0);
  }

  // The strip of dated rules across the horizon (SVG, drawn at the container's pixel width).
  function renderTimeline() {
    const box = $("#timeline");
    const sc = state.scenario;
    if (!sc) return;
    const pols = effectivePolicies();
    const W = Math.max(240, box.clientWidth || 380);
    const L = 8, R = 8, top = 20, rowH = 17;
    const H = top + pols.length * rowH + 6;
    const t0 = dayOf(sc.start_date), t1 = dayOf(sc.end_date) + 1;
    const X = (d) => L + ((d - t0) / (t1 - t0)) * (W - L - R);
    const NS = "http://www.w3.org/2000/svg";
    const s = (tag, attrs, text) => {
      const e = document.createElementNS(NS, tag);
      for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
      if (text != null) e.textContent = text;
      return e;
    };
    const svg = s("svg", { width: W, height: H, viewBox: "0 0 " + W + " " + H, role: "img",
      "aria-label": "Policy timeline from " + sc.start_date + " to " + sc.end_date });
    // Year ticks.
    const y0 = Number(sc.start_date.slice(0, 4)), y1 = Number(sc.end_date.slice(0, 4));
    for (let y = y0; y <= y1 + 1; y++) {
      const d = dayOf(y + "-01-01");
      if (d < t0 || d > t1) continue;
      svg.append(s("line", { x1: X(d), x2: X(d), y1: top - 4, y2: H, class: "tl-grid" }));
      if (X(d) < W - 24) svg.append(s("text", { x: X(d) + 2, y: 11, class: "tl-year" }, String(y)));
    }
    svg.append(s("line", { x1: L, x2: W - R, y1: top - 4, y2: top - 4, class: "tl-axis" }));
    pols.forEach((p, i) => {
      const y = top + i * rowH + rowH / 2;
      const from = p.from ? dayOf(p.from) : t0;
      const until = p.until ? dayOf(p.until) : t1;
      const g = s("g", { class: "tl-rule" + (p.enabled ? "" : " off") + (p.moved ? " moved" : "") + (p.added ? " added" : ""),
        "data-rule": p.name });
      g.append(s("title", {}, p.name + ": " + (p.summary || p.rule) + "\nfrom " + p.from + (p.until ? " until " + p.until : "") +
        (p.enabled ? "" : " (switched off)")));
      const a = Math.max(t0, Math.min(t1, from)), b = Math.max(t0, Math.min(t1, until));
      if (until >= t0 && from <= t1) {
        g.append(s("line", { x1: X(a), x2: X(b), y1: y, y2: y, class: "tl-bar" }));
      }
      const label = (i + 1) + " " + p.name;
      let lx;
      if (from >= t0 && from <= t1) {
        const h = s("circle", { cx: X(from), cy: y, r: 5.5, class: "tl-handle", tabindex: -1 });
        if (!p.added) makeDraggable(h, p, X, t0, t1, L, W - R);
        g.append(h);
        lx = X(from);
      } else if (from < t0) {
        g.append(s("path", { d: "M" + (L + 6) + " " + (y - 4) + " L" + L + " " + y + " L" + (L + 6) + " " + (y + 4) + "Z", class: "tl-before" }));
        lx = L;
      } else {
        g.append(s("path", { d: "M" + (W - R - 6) + " " + (y - 4) + " L" + (W - R) + " " + y + " L" + (W - R - 6) + " " + (y + 4) + "Z", class: "tl-before" }));
        lx = W - R;
      }
      const textW = label.length * 6.2 + 12;
      const right = lx + textW < W - R || lx < W / 2;
      g.append(s("text", { x: right ? lx + 9 : lx - 9, y: y + 4, "text-anchor": right ? "start" : "end", class: "tl-label" }, label));
      g.addEventListener("click", () => {
        const row = $('[data-policy="' + CSS.escape(p.name) + '"]', $("#policies"));
        const inp = row && $('input[data-role="from"]', row);
        if (inp) inp.focus();
      });
      svg.append(g);
    });
    box.replaceChildren(svg);
  }

  function makeDraggable(handle, p, X, t0, t1, xmin, xmax) {
    handle.addEventListener("pointerdown", (ev) => {
      ev.preventDefault();
      handle.setPointerCapture(ev.pointerId);
      const svg = handle.ownerSVGElement;
      const rect = svg.getBoundingClientRect();
      const dayAt = (clientX) => {
        const x = Math.max(xmin, Math.min(xmax, clientX - rect.left));
        return t0 + ((x - xmin) / (xmax - xmin)) * (t1 - t0);
      };
      let last = null;
      const move = (e) => {
        last = isoOfDay(dayAt(e.clientX));
        handle.setAttribute("cx", X(dayOf(last)));
        const row = $('[data-policy="' + CSS.escape(p.name) + '"]', $("#policies"));
        const inp = row && $('input[data-role="from"]', row);
        if (inp) inp.value = last;
      };
      const up = () => {
        handle.removeEventListener("pointermove", move);
        handle.removeEventListener("pointerup", up);
        handle.removeEventListener("pointercancel", up);
        if (last) {
          policyEdit(p.name, "from", last);
          scheduleCheck(0);
        }
      };
      handle.addEventListener("pointermove", move);
      handle.addEventListener("pointerup", up);
      handle.addEventListener("pointercancel", up);
    });
  }

  // ---------------------------------------------------------------- input fields

  function renderFields() {
    const box = $("#fields");
    const sc = state.scenario;
    const groups = new Map();
    (sc.inputs || []).forEach((f) => {
      // A rule's dates and switch are edited in the policy timeline.
      if (/^policy\.("[^"]*"|[^.]+)\.(from|until|enabled)$/.test(f.field)) return;
      const g = f.field.split(".")[0];
      if (!groups.has(g)) groups.set(g, []);
      groups.get(g).push(f);
    });
    const gsel = $("#field-group");
    const prevGroup = gsel.value;
    gsel.replaceChildren(el("option", { value: "", text: "all groups" }),
      ...Array.from(groups.keys()).map((g) => el("option", { value: g, text: g + " (" + groups.get(g).length + ")" })));
    gsel.value = groups.has(prevGroup) ? prevGroup : "";
    box.replaceChildren();
    let n = 0;
    for (const [g, fields] of groups) {
      const rows = fields.map((f) => {
        const id = "f-" + n++;
        const rest = f.field.slice(g.length + 1) || f.field;
        let input;
        if (f.kind === "bool") {
          input = el("select", { id, "data-field": f.field },
            f.default ? el("option", { value: "", text: "default" }) : null,
            el("option", { value: "true", text: "true" }), el("option", { value: "false", text: "false" }));
          input.value = String(f.value);
        } else if (f.kind === "date" && /^\d{4}-\d\d-\d\d$/.test(f.value)) {
          input = el("input", { id, type: "date", "data-field": f.field, value: f.value });
        } else {
          input = el("input", { id, type: "text", "data-field": f.field, value: f.value, spellcheck: "false",
            placeholder: f.default ? "default" : null,
            autocomplete: "off", class: f.kind === "table" ? "mono" : null,
            inputmode: f.kind === "number" ? "decimal" : null });
        }
        input.setAttribute("aria-describedby", id + "-src " + id + "-err");
        input.dataset.original = String(f.value);
        const onEdit = () => {
          const v = input.value.trim();
          if (v === input.dataset.original || v === "") state.fieldEdits.delete(f.field);
          else state.fieldEdits.set(f.field, v);
          row.classList.toggle("edited", state.fieldEdits.has(f.field));
          renderEdits();
        };
        input.addEventListener("input", () => {
          onEdit();
          scheduleCheck(600);
        });
        input.addEventListener("change", () => {
          onEdit();
          scheduleCheck(0);
        });
        const reset = el("button", { type: "button", class: "icon", text: "\u21ba", title: "Back to the scenario's value",
          "aria-label": "Reset " + f.field,
          onclick: () => {
            input.value = input.dataset.original;
            onEdit();
            scheduleCheck(0);
          } });
        const row = el("div", { class: "field", "data-field-row": f.field,
            "data-search": (f.field + " " + f.value + " " + (f.unit || "") + " " + (f.source || "")).toLowerCase() },
          el("label", { for: id, class: "field-path", title: f.field }, rest),
          el("div", { class: "field-input" }, input, f.unit ? el("span", { class: "unit", text: f.unit }) : null, reset),
          el("p", { class: "field-source small muted", id: id + "-src", title: f.source || "",
            text: (f.default ? "not in the file: its default applies" + (f.source ? "; " : "") : "") +
              (f.source || (f.default ? "" : "no source given")) }),
          el("p", { class: "field-error", id: id + "-err", "data-error-for": f.field, "aria-live": "polite" }));
        return row;
      });
      const det = el("details", { class: "group", "data-group": g },
        el("summary", {}, el("span", { class: "group-name", text: g }), el("span", { class: "group-count muted small" })),
        ...rows);
      box.append(det);
    }
    filterFields();
  }

  function filterFields() {
    const q = $("#field-search").value.trim().toLowerCase();
    const terms = q.split(/\s+/).filter(Boolean);
    const group = $("#field-group").value;
    const editedOnly = $("#field-edited-only").checked;
    let shown = 0, total = 0;
    $$("#fields details.group").forEach((det) => {
      let n = 0;
      const gOk = !group || det.dataset.group === group;
      $$(".field", det).forEach((row) => {
        total++;
        const hay = row.dataset.search;
        const ok = (gOk && terms.every((t) => hay.includes(t)) &&
          (!editedOnly || row.classList.contains("edited"))) || row.classList.contains("has-error");
        row.hidden = !ok;
        if (ok) n++;
      });
      shown += n;
      det.hidden = n === 0;
      $(".group-count", det).textContent = " " + n + (n === $$(".field", det).length ? "" : " of " + $$(".field", det).length);
      if ((terms.length || group || editedOnly) && n > 0 && n <= 60) det.open = true;
    });
    $("#field-count").textContent = shown === total ? total + " fields" : shown + " of " + total + " fields shown";
  }

  // ---------------------------------------------------------------- edits, checks, errors

  function setEntries() {
    const out = [];
    for (const [name, e] of state.policyEdits) {
      const p = state.scenario.policies.find((q) => q.name === name);
      const on = e.enabled != null ? e.enabled : p.enabled;
      const path = "policy." + quoteSeg(name);
      if (on) {
        if (e.enabled === true) out.push(path + ".enabled=true");
        if (e.from != null) out.push(path + ".from=" + e.from);
        if (e.until != null) out.push(path + ".until=" + e.until);
      } else if (e.enabled === false) {
        out.push(path + ".enabled=false");
      }
    }
    for (const [path, v] of state.fieldEdits) out.push(path + "=" + v);
    return out;
  }

  function renderEdits() {
    const box = $("#edits");
    const entries = setEntries();
    const n = entries.length + state.added.length;
    $("#reset-edits").hidden = n === 0;
    if (!n) {
      box.replaceChildren(el("span", { class: "muted small", text: "No edits: the scenario as written." }));
      return;
    }
    box.replaceChildren(
      el("span", { class: "small", text: n + " edit" + (n === 1 ? "" : "s") + ": " }),
      ...entries.map((e) => el("code", { class: "edit", text: "--set " + e })),
      ...state.added.map((t) => el("code", { class: "edit", text: "+ rule " + parseAdded(t).name }))
    );
  }

  function resetEdits() {
    state.fieldEdits.clear();
    state.policyEdits.clear();
    state.added = [];
    renderPolicies();
    renderFields();
    renderEdits();
    clearErrors();
  }

  function checkWith(set, add) {
    return fetch("/api/check", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ scenario: state.scenario.id, set, add_policies: add }),
    }).then(async (res) => {
      const data = await res.json().catch(() => ({ error: res.statusText }));
      if (res.status === 422) return data;
      if (!res.ok) throw Object.assign(new Error(data.error || res.statusText), { status: res.status, data });
      return data;
    });
  }

  let checkTimer = null;
  function scheduleCheck(ms) {
    clearTimeout(checkTimer);
    checkTimer = setTimeout(runCheck, ms);
  }
  async function runCheck() {
    if (!state.scenario) return null;
    const seq = ++state.checkSeq;
    const set = setEntries();
    $("#check").classList.add("busy");
    try {
      const res = await checkWith(set, state.added);
      if (seq !== state.checkSeq) return res;
      if (res.ok === false) showErrors(res.errors || []);
      else clearErrors();
      return res;
    } catch (e) {
      if (seq === state.checkSeq) showErrors([{ path: null, message: e.message }]);
      return null;
    } finally {
      if (seq === state.checkSeq) $("#check").classList.remove("busy");
    }
  }

  function clearErrors() {
    $$(".field-error").forEach((e) => {
      if (e.id !== "add-policy-error") e.textContent = "";
    });
    $$("[aria-invalid]").forEach((e) => e.removeAttribute("aria-invalid"));
    $$(".has-error").forEach((e) => e.classList.remove("has-error"));
    $("#check-errors").replaceChildren();
    if (state.scenario) filterFields();
  }

  // Where an error about `path` is shown: the field's own error line, a policy row's, or none.
  function errorTarget(path) {
    if (!path) return null;
    const esc = CSS.escape(path);
    let t = $('.field-error[data-error-for="' + esc + '"]');
    if (t) return t;
    const m = /^policy\.("(?:[^"\\]|\\.)*"|[^.]+)/.exec(path);
    if (m) {
      const name = m[1].replace(/^"|"$/g, "");
      t = $('#policies .field-error[data-error-for="policy.' + CSS.escape(name) + '"]');
      if (t) return t;
    }
    // The deepest field whose path starts the error's path (an error inside a table value).
    const rows = $$(".field-error[data-error-for]").filter((e) => path.startsWith(e.dataset.errorFor + "."));
    rows.sort((a, b) => b.dataset.errorFor.length - a.dataset.errorFor.length);
    return rows[0] || null;
  }

  function showErrors(errors) {
    clearErrors();
    const summary = $("#check-errors");
    const items = [];
    let first = null;
    for (const e of errors) {
      const target = errorTarget(e.path);
      const text = e.message + (e.help && e.message.indexOf(e.help) < 0 ? "\nhelp: " + e.help : "");
      if (target) {
        target.textContent = (target.textContent ? target.textContent + "\n" : "") + text;
        const row = target.closest(".field, .policy");
        if (row) {
          row.classList.add("has-error");
          const det = row.closest("details");
          if (det) det.open = true;
          const inp = (e.path && row.querySelector('[data-field="' + CSS.escape(e.path) + '"]')) || $("[data-field]", row);
          if (inp) inp.setAttribute("aria-invalid", "true");
          if (!first) first = inp;
        }
      }
      items.push(el("li", {},
        e.path ? el("button", { type: "button", class: "link", text: e.path,
          onclick: () => {
            const t = errorTarget(e.path);
            const inp = t && $("[data-field], input", t.closest(".field, .policy"));
            if (inp) { inp.scrollIntoView({ block: "center" }); inp.focus(); }
          } }) : null,
        e.path ? ": " : "",
        el("span", { class: "pre", text: target ? firstLine(e.message) : text })));
    }
    if (items.length) {
      summary.replaceChildren(el("p", { class: "small", text: "The scenario does not load with these edits:" }), el("ul", {}, items));
    }
    filterFields();
    return first;
  }
  function firstLine(s) {
    return String(s).split("\n")[0];
  }

  // ---------------------------------------------------------------- runs

  function validReplications() {
    const inp = $("#replications");
    const err = $("#replications-error");
    const n = Number(inp.value);
    if (!Number.isInteger(n) || n < 1 || n > 1000) {
      err.textContent = "Replications: a whole number from 1 to 1000.";
      inp.setAttribute("aria-invalid", "true");
      return null;
    }
    err.textContent = "";
    inp.removeAttribute("aria-invalid");
    return n;
  }

  async function startRun() {
    showMessage(null);
    const n = validReplications();
    if (n == null || !state.scenario) return;
    const clicked = performance.now();
    const body = {
      scenario: state.scenario.id,
      set: setEntries(),
      add_policies: state.added.slice(),
      replications: n,
      period: $("#period").value || "month",
      name: $("#run-name").value.trim() || null,
      when_busy: $("#when-busy").value,
    };
    let res;
    $("#run").disabled = true;
    try {
      res = await api("POST", "/api/runs", body);
    } catch (e) {
      if (e.status === 422 && e.data && e.data.errors) {
        const first = showErrors(e.data.errors);
        showMessage("Not run: the scenario does not load with these edits (see the fields marked).");
        if (first) first.scrollIntoView({ block: "center" });
      } else {
        showMessage("Not run: " + e.message);
      }
      return;
    } finally {
      $("#run").disabled = false;
    }
    clearErrors();
    const run = {
      id: res.id, name: res.name, command: res.command, seq: ++state.runSeq, total: n, done: 0,
      state: "submitted", clicked, accepted: performance.now(), firstDrawn: null, firstDone: null, drawnDone: 0, allDrawn: null, server: null, es: null,
      scenario: body.scenario,
    };
    state.runs.set(run.id, run);
    $("#run-command").textContent = res.command;
    $("#run-command-row").hidden = false;
    $("#timings").textContent = "";
    setProgress(run, "Submitted " + run.name + "\u2026");
    listen(run);
    renderJobs();
  }

  function listen(run) {
    const es = new EventSource("/api/runs/" + enc(run.id) + "/events");
    run.es = es;
    const on = (name, fn) => es.addEventListener(name, (ev) => {
      let data = {};
      try {
        data = ev.data ? JSON.parse(ev.data) : {};
      } catch (e) { /* keep {} */ }
      fn(data);
      renderJobs();
    });
    on("queued", (d) => {
      run.state = "queued";
      setProgress(run, "Queued behind " + d.position + " run" + (d.position === 1 ? "" : "s") + "\u2026");
    });
    on("started", (d) => {
      run.state = "running";
      if (d.replications) run.total = d.replications;
      setProgress(run, "Running\u2026 0 of " + run.total + " replications");
    });
    on("progress", (d) => {
      run.state = "running";
      if (d.done < run.drawnDone) return; // an older snapshot that arrived late
      run.drawnDone = d.done;
      run.done = d.done;
      run.total = d.total || run.total;
      if (run.seq < state.drawnSeq) return; // a newer run of this tab is on screen
      state.drawnSeq = run.seq;
      queueDraw(run, d);
    });
    on("done", (d) => {
      run.state = "done";
      run.server = d;
      run.folder = d.name || run.name;
      es.close();
      afterDraw(async () => {
        if (run.drawnDone < run.total && run.seq >= state.drawnSeq) {
          // The stream's last progress did not have every replication: draw the folder's charts.
          try {
            const data = await api("GET", "/api/folders/" + enc(run.folder) + "/charts");
            renderCharts(data.charts || [], null);
            run.done = run.drawnDone = run.total;
            markDrawn(run, run.total, run.total);
          } catch (e) {
            showMessage("Could not load the charts of " + run.folder + ": " + e.message);
          }
        }
        run.done = run.total;
        setProgress(run, "Done: " + run.total + " of " + run.total + " replications \u00b7 " + run.folder);
        showTimings(run);
        onRunDone(run);
      });
    });
    on("failed", (d) => {
      run.state = "failed";
      es.close();
      setProgress(run, "Failed: " + (d.message || "unknown error"));
      showMessage("The run " + run.name + " failed: " + (d.message || "unknown error"));
    });
    on("cancelled", () => {
      run.state = "cancelled";
      es.close();
      setProgress(run, "Cancelled: " + run.name);
    });
    es.onerror = () => {
      if (["done", "failed", "cancelled"].includes(run.state)) return;
      // EventSource reconnects by itself; a late listener gets the latest state first.
      if (es.readyState === EventSource.CLOSED) {
        run.state = "lost";
        setProgress(run, "Lost the connection to the server.");
      }
    };
  }

  // Progress events can come faster than frames: draw the latest once per frame.
  let pending = null;
  let afterQueue = [];
  function queueDraw(run, d) {
    const first = pending == null;
    pending = { run, d };
    if (first) requestAnimationFrame(drawPending);
  }
  function drawPending() {
    const p = pending;
    pending = null;
    if (p) {
      const { run, d } = p;
      state.view = { kind: "live", run };
      $("#compare-run").value = ""; // the live run (a chosen "compare with" applies when it is done)
      renderCharts(d.charts || [], null);
      // Timed when the next frame starts: the updated charts have been painted.
      requestAnimationFrame(() => markDrawn(run, d.done, d.total));
      if (!["done"].includes(run.state)) setProgress(run, "Running\u2026 " + d.done + " of " + d.total + " replications");
    }
    const q = afterQueue;
    afterQueue = [];
    q.forEach((f) => f());
  }
  function markDrawn(run, done, total) {
    const now = performance.now();
    if (run.firstDrawn == null) {
      run.firstDrawn = now;
      run.firstDone = done;
    }
    if (done >= total && run.allDrawn == null) run.allDrawn = now;
    const charts = $("#charts");
    charts.dataset.run = run.id;
    charts.dataset.done = done;
    $("#view-title").textContent = "Live: " + run.name + " \u00b7 " + done + " of " + total + " replications";
    showTimings(run);
  }
  function afterDraw(fn) {
    if (pending) afterQueue.push(fn);
    else fn();
  }

  function setProgress(run, text) {
    // Only the newest run of this tab drives the progress bar.
    const newest = Math.max(...Array.from(state.runs.values()).map((r) => r.seq));
    if (run.seq !== newest && run.seq < state.drawnSeq) return;
    const p = $("#progress");
    p.dataset.state = run.state;
    p.dataset.done = run.done;
    p.dataset.total = run.total;
    p.dataset.run = run.id;
    const bar = $("#progress-bar");
    bar.max = Math.max(1, run.total);
    bar.value = run.done;
    $("#progress-text").textContent = text;
    $("#cancel").disabled = !Array.from(state.runs.values()).some((r) => ["submitted", "queued", "running"].includes(r.state));
  }

  function showTimings(run) {
    const t = {
      run: run.id,
      name: run.name,
      replications: run.total,
      accepted_ms: Math.round(run.accepted - run.clicked),
      first_chart_ms: run.firstDrawn != null ? Math.round(run.firstDrawn - run.clicked) : null,
      first_chart_replications: run.firstDone,
      all_charts_ms: run.allDrawn != null ? Math.round(run.allDrawn - run.clicked) : null,
      server_first_chart_ms: run.server ? run.server.first_chart_ms : null,
      server_all_charts_ms: run.server ? run.server.all_charts_ms : null,
      server_wall_time_s: run.server ? run.server.wall_time_s : null,
    };
    window.capsim.timings = t;
    const parts = [];
    if (t.first_chart_ms != null) parts.push("first chart " + t.first_chart_ms + " ms after Run");
    if (t.all_charts_ms != null) parts.push("all " + t.replications + " replications drawn after " + t.all_charts_ms + " ms");
    if (t.server_wall_time_s != null) parts.push("server: " + Number(t.server_wall_time_s).toFixed(2) + " s");
    const e = $("#timings");
    e.textContent = parts.join(" \u00b7 ");
    e.dataset.firstChartMs = t.first_chart_ms == null ? "" : t.first_chart_ms;
    e.dataset.allChartsMs = t.all_charts_ms == null ? "" : t.all_charts_ms;
  }

  function renderJobs() {
    const list = $("#jobs");
    const runs = Array.from(state.runs.values()).filter((r) => ["submitted", "queued", "running"].includes(r.state));
    list.replaceChildren(...runs.map((r) =>
      el("li", { "data-run": r.id },
        el("span", { text: r.name + ": " + r.state + (r.state === "running" ? " " + r.done + "/" + r.total : "") + " " }),
        el("button", { type: "button", class: "link", text: "cancel", onclick: () => cancelRun(r) }))));
    $("#cancel").disabled = runs.length === 0;
  }

  async function cancelRun(run) {
    try {
      await api("POST", "/api/runs/" + enc(run.id) + "/cancel", {});
    } catch (e) {
      showMessage("Could not cancel " + run.name + ": " + e.message);
    }
  }
  function cancelNewest() {
    const runs = Array.from(state.runs.values()).filter((r) => ["submitted", "queued", "running"].includes(r.state));
    runs.sort((a, b) => b.seq - a.seq);
    if (runs[0]) cancelRun(runs[0]);
  }

  async function onRunDone(run) {
    await loadFolders();
    const sel = $("#compare-run");
    if ([...sel.options].some((o) => o.value === run.folder)) sel.value = run.folder;
    if ($("#compare").value && $("#compare").value !== run.folder) await showFolder();
    else {
      state.view = { kind: "folder", name: run.folder, compare: null, live: true };
      $("#view-title").textContent = "Run " + run.folder + " (" + run.total + " replications)";
    }
  }

  // ---------------------------------------------------------------- run folders, compare

  async function loadFolders() {
    let data;
    try {
      data = await api("GET", "/api/folders");
    } catch (e) {
      showMessage("Could not list the run folders: " + e.message);
      return;
    }
    const folders = data.folders || [];
    const sig = JSON.stringify(folders);
    if (sig === state.foldersSig) return; // unchanged: keep the list (and links in use) as they are
    state.foldersSig = sig;
    state.folders = folders;
    for (const id of ["#compare-run", "#compare"]) {
      const sel = $(id);
      const prev = sel.value;
      const first = sel.options[0];
      sel.replaceChildren(first, ...state.folders.map((f) =>
        el("option", { value: f.name, text: f.name + " \u00b7 " + f.scenario + ", " + f.replications + " reps" +
          (f.overrides && f.overrides.length ? ", " + f.overrides.length + " edit" + (f.overrides.length === 1 ? "" : "s") : "") })));
      if (state.folders.some((f) => f.name === prev)) sel.value = prev;
    }
    renderFolders();
  }

  function fileUrl(name, path, download) {
    return "/api/folders/" + enc(name) + "/files/" + path.split("/").map(enc).join("/") + (download ? "?download=1" : "");
  }

  function renderFolders() {
    const list = $("#runs");
    if (!state.folders.length) {
      list.replaceChildren(el("li", { class: "muted", text: "No run folders yet." }));
      return;
    }
    list.replaceChildren(...state.folders.map((f, i) => {
      const files = f.files || ["report.html", "summary.csv", "headline.csv", "timeseries.csv", "firms.csv",
        "manifest.json", "schema.json"];
      const csv = files.filter((p) => /\.(csv|parquet)$/.test(p) && p.indexOf("/") < 0);
      const charts = files.filter((p) => /^charts\/[^/]+\.(png|svg)$/.test(p));
      const other = files.filter((p) => !csv.includes(p) && !charts.includes(p) && p !== "report.html" && p.indexOf("/") < 0);
      const cmdId = "cmd-" + i;
      const hasReport = files.includes("report.html");
      return el("li", { class: "folder", "data-folder": f.name },
        el("div", { class: "folder-head" },
          el("strong", { text: f.name }),
          el("span", { class: "muted small", text: " " + f.scenario + " \u00b7 " + f.replications +
            (f.replications === 1 ? " replication \u00b7 " : " replications \u00b7 ") +
            f.period + " \u00b7 seed " + f.seed }),
          el("span", { class: "folder-actions" },
            el("button", { type: "button", class: "link", text: "show", "data-action": "show",
              onclick: () => { $("#compare-run").value = f.name; showFolder(); } }),
            el("button", { type: "button", class: "link", text: "compare with", "data-action": "compare",
              title: "Compare the shown run with this one",
              onclick: () => { $("#compare").value = f.name; showFolder(); } }))),
        f.overrides && f.overrides.length ? el("div", { class: "small" }, "edits: ",
          ...f.overrides.map((o) => el("code", { class: "edit", text: o }))) : null,
        el("div", { class: "files small" },
          hasReport ? el("a", { href: fileUrl(f.name, "report.html"), target: "_blank", rel: "noopener", text: "report" }) : null,
          hasReport ? el("a", { href: fileUrl(f.name, "report.html", true), download: "report.html",
            "data-testid": "download-report", text: "download report.html" }) : null,
          ...csv.map((p) => el("a", { href: fileUrl(f.name, p, true), download: p, text: p })),
          ...other.map((p) => el("a", { href: fileUrl(f.name, p, true), download: p.split("/").pop(), text: p })),
          charts.length ? el("details", { class: "chart-files" }, el("summary", { text: charts.length + " chart files" }),
            ...charts.map((p) => el("a", { href: fileUrl(f.name, p), target: "_blank", rel: "noopener", text: p.slice(7) }))) : null),
        f.command ? el("div", { class: "command-row" },
          el("code", { class: "command", id: cmdId, text: f.command }),
          el("button", { type: "button", class: "copy", "data-copy-target": cmdId, text: "Copy" })) : null);
    }));
  }

  async function showFolder() {
    const name = $("#compare-run").value;
    const other = $("#compare").value;
    if (!name) {
      // The live run: nothing to fetch; a comparison needs a finished run folder.
      if (other) {
        const latest = state.folders[0];
        if (!latest) return;
        $("#compare-run").value = latest.name;
        return showFolder();
      }
      return;
    }
    let data;
    const url = "/api/folders/" + enc(name) + "/charts" + (other && other !== name ? "?compare=" + enc(other) : "");
    try {
      data = await api("GET", url);
    } catch (e) {
      showMessage("Could not load the charts of " + name + ": " + e.message);
      return;
    }
    showMessage(null);
    state.view = { kind: "folder", name, compare: other || null };
    state.drawnSeq = state.runSeq + 1; // a live run in progress no longer takes over the charts
    renderCharts(data.charts || [], data.comparison);
    $("#view-title").textContent = data.comparison
      ? "Run " + name + " compared with " + data.comparison.baseline
      : "Run " + name;
  }

  // A comparison row's unit as the page formats it: usd, percent (a share) or plain, with the unit's
  // name shown beside plain numbers.
  function rowUnit(r) {
    const u = String(r.unit || "");
    if (r.share || /^(share|percent|fraction)$/i.test(u)) return { fmt: "percent", name: "" };
    if (/^usd$/i.test(u)) return { fmt: "usd", name: "" };
    return { fmt: "plain", name: u === "plain" ? "" : u };
  }
  const SCOPE_NAMES = { total: "over the window", end: "at the end", mean: "mean over the window" };

  function renderComparison(c) {
    const box = $("#comparison");
    if (!c) {
      box.replaceChildren();
      box.hidden = true;
      return;
    }
    box.hidden = false;
    const rowsAll = c.rows || [];
    const groups = [...new Set(rowsAll.map((r) => r.group).filter((g) => g != null))];
    const scopes = [...new Set(rowsAll.map((r) => r.scope).filter((g) => g != null))];
    const prev = state.comparisonFilter || {};
    const gSel = el("select", { id: "comparison-group" }, el("option", { value: "", text: "all groups" }),
      ...groups.map((g) => el("option", { value: g, text: g })));
    gSel.value = groups.includes(prev.group) ? prev.group : groups.includes("all") ? "all" : "";
    const sSel = el("select", { id: "comparison-scope" }, el("option", { value: "", text: "both" }),
      ...scopes.map((x) => el("option", { value: x, text: SCOPE_NAMES[x] || x })));
    sSel.value = scopes.includes(prev.scope) ? prev.scope : scopes.includes("total") ? "total" : "";
    const tbody = el("tbody");
    const fill = () => {
      state.comparisonFilter = { group: gSel.value, scope: sSel.value };
      const rows = rowsAll.filter((r) => (!gSel.value || r.group === gSel.value) && (!sSel.value || r.scope === sSel.value));
      tbody.replaceChildren(...rows.map((r) => {
        const u = rowUnit(r);
        const sig = r.diff_p05 != null && r.diff_p95 != null && (r.diff_p05 > 0 || r.diff_p95 < 0);
        const where = [gSel.value ? null : r.group, sSel.value ? null : SCOPE_NAMES[r.scope] || r.scope]
          .filter((x) => x).join(", ");
        return el("tr", { "data-metric": r.metric, "data-group": r.group || "", "data-scope": r.scope || "" },
          el("th", { scope: "row" }, r.title || r.metric, where ? el("span", { class: "muted small", text: " (" + where + ")" }) : null),
          el("td", { class: "muted small", text: u.name }),
          el("td", { class: "num", text: fmt(r.baseline_mean, u.fmt) }),
          el("td", { class: "num", text: fmt(r.run_mean, u.fmt) }),
          el("td", { class: "num diff" + (sig ? (r.diff_mean > 0 ? " up" : " down") : ""), text: fmtSigned(r.diff_mean, u.fmt) }),
          el("td", { class: "num muted", text: r.diff_p05 == null ? "\u2013" : fmtSigned(r.diff_p05, u.fmt) + " to " + fmtSigned(r.diff_p95, u.fmt) }),
          el("td", { class: "small", text: r.paired ? "paired" : "" }));
      }));
    };
    gSel.addEventListener("change", fill);
    sSel.addEventListener("change", fill);
    fill();
    box.replaceChildren(
      el("div", { class: "comparison-head" },
        el("p", { class: "small" }, "Differences: ", el("strong", { text: c.run }), " minus ", el("strong", { text: c.baseline }),
          c.window ? " (" + c.window[0] + " to " + c.window[1] + ")" : "",
          ". Paired rows: both runs share their seeds, so the band is that of the replication-by-replication differences."),
        el("div", { class: "comparison-filters" },
          el("label", { for: "comparison-group", class: "inline small", text: "group" }), gSel,
          el("label", { for: "comparison-scope", class: "inline small", text: "figure" }), sSel)),
      el("div", { class: "comparison-scroll" },
        el("table", { class: "comparison-table", "data-testid": "comparison-table" },
          el("caption", { class: "visually-hidden", text: "Paired differences, " + c.run + " minus " + c.baseline }),
          el("thead", {}, el("tr", {},
            el("th", { scope: "col", text: "metric" }),
            el("th", { scope: "col", text: "unit" }),
            el("th", { scope: "col", class: "num", title: c.baseline, text: "baseline" }),
            el("th", { scope: "col", class: "num", title: c.run, text: "this run" }),
            el("th", { scope: "col", class: "num", text: "difference" }),
            el("th", { scope: "col", class: "num", text: "p05 to p95" }),
            el("th", { scope: "col", text: "" }))),
          tbody)));
  }

  // ---------------------------------------------------------------- charts

  const DASH = {
    solid: null,
    dashed: [6, 4],
    dotted: [2, 3],
    "dot-dashed": [7, 3, 2, 3],
    "long-dashed": [12, 5],
  };

  function hexA(hex, a) {
    const m = /^#?([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex || "");
    if (!m) return "rgba(0,0,0," + a + ")";
    return "rgba(" + parseInt(m[1], 16) + "," + parseInt(m[2], 16) + "," + parseInt(m[3], 16) + "," + a + ")";
  }

  // One panel's data for uPlot: x (unix seconds, with the horizon's two ends as empty points),
  // the drawn values (stacked layers summed), and each series' own mean/lo/hi for the legend.
  function panelData(chart, panel) {
    const base = dayOf(chart.x_start);
    const xsDays = new Set([0, chart.x_days]);
    panel.series.forEach((s) => s.points.forEach((p) => xsDays.add((p.x0 + p.x1) / 2)));
    const xd = Array.from(xsDays).sort((a, b) => a - b);
    const idx = new Map(xd.map((d, i) => [d, i]));
    const n = xd.length;
    const x = xd.map((d) => (base + d) * DAY);
    const spans = new Array(n).fill(null);
    panel.series.forEach((s) => s.points.forEach((p) => {
      const i = idx.get((p.x0 + p.x1) / 2);
      if (!spans[i]) spans[i] = [base + p.x0, base + p.x1];
    }));
    const drawn = [], raw = [], lo = [], hi = [], below = [];
    let cum = new Array(n).fill(null);
    let cumAny = false;
    panel.series.forEach((s) => {
      const m = new Array(n).fill(null), l = new Array(n).fill(null), h = new Array(n).fill(null);
      s.points.forEach((p) => {
        const i = idx.get((p.x0 + p.x1) / 2);
        m[i] = p.mean;
        l[i] = p.lo;
        h[i] = p.hi;
      });
      raw.push({ mean: m, lo: l, hi: h });
      if (s.stacked) {
        const prev = cumAny ? cum.slice() : new Array(n).fill(0);
        const d = m.map((v, i) => (v == null ? null : (prev[i] || 0) + v));
        below.push(prev);
        drawn.push(d);
        lo.push(l.map((v, i) => (v == null ? null : (prev[i] || 0) + v)));
        hi.push(h.map((v, i) => (v == null ? null : (prev[i] || 0) + v)));
        cum = d.map((v, i) => (v == null ? prev[i] : v));
        cumAny = true;
      } else {
        below.push(null);
        drawn.push(m);
        lo.push(l);
        hi.push(h);
      }
    });
    // Gaps between a series' own points are joined only where its grid is coarser than the panel's.
    const sparse = panel.series.map((s) => s.points.length < n - 2);
    return { x, spans, drawn, raw, lo, hi, below, sparse, spanGaps: sparse };
  }

  function extent(pd, panel) {
    let min = Infinity, max = -Infinity;
    const take = (v) => {
      if (v == null || !isFinite(v)) return;
      if (panel.log && v <= 0) return;
      if (v < min) min = v;
      if (v > max) max = v;
    };
    panel.series.forEach((s, i) => {
      pd.drawn[i].forEach(take);
      if (s.band) {
        pd.lo[i].forEach(take);
        pd.hi[i].forEach(take);
      }
    });
    (panel.observed || []).forEach((o) => {
      take(o.value);
      take(o.low);
      take(o.high);
    });
    return [min, max];
  }

  function yRange(panel, ext) {
    let [min, max] = ext;
    if (!isFinite(min) || !isFinite(max)) return panel.log ? [1, 10] : [0, 1];
    if (panel.log) {
      const lo = Math.pow(10, Math.floor(Math.log10(min)));
      const hi = Math.pow(10, Math.ceil(Math.log10(max)));
      return [lo, hi === lo ? hi * 10 : hi];
    }
    if (min > 0) min = 0;
    if (max < 0) max = 0;
    if (min === max) max = min + 1;
    const r = uPlot.rangeNum(min, max, 0.08, true);
    if (ext[0] >= 0) r[0] = 0;
    if (panel.unit === "percent" && ext[1] <= 1 && r[1] > 1) r[1] = 1;
    return r;
  }

  // Fills under the lines: p05-p95 bands and stacked layers.
  function drawFills(u) {
    const c = u._capsim;
    if (!c) return;
    const ctx = u.ctx;
    const { left, top, width, height } = u.bbox;
    ctx.save();
    ctx.beginPath();
    ctx.rect(left, top, width, height);
    ctx.clip();
    const X = (i) => u.valToPos(u.data[0][i], "x", true);
    const Y = (v) => u.valToPos(v, "y", true);
    const okv = (v) => v != null && isFinite(v) && (!c.panel.log || v > 0);
    c.panel.series.forEach((s, si) => {
      if (!u.series[si + 1].show) return;
      const n = u.data[0].length;
      const poly = (upper, lower, fill) => {
        let i = 0;
        while (i < n) {
          while (i < n && !(okv(upper[i]) && okv(lower[i]))) i++;
          const start = i;
          while (i < n && okv(upper[i]) && okv(lower[i])) i++;
          const end = i;
          if (end - start < 1) continue;
          ctx.beginPath();
          for (let k = start; k < end; k++) (k === start ? ctx.moveTo : ctx.lineTo).call(ctx, X(k), Y(upper[k]));
          for (let k = end - 1; k >= start; k--) ctx.lineTo(X(k), Y(lower[k]));
          ctx.closePath();
          ctx.fillStyle = fill;
          ctx.fill();
        }
      };
      if (s.stacked && c.pd.below[si]) {
        poly(c.pd.drawn[si], c.pd.below[si].map((v, i) => (c.pd.drawn[si][i] == null ? null : v || (c.panel.log ? null : 0))),
          hexA(s.color, 0.28));
      }
      if (s.band) poly(c.pd.hi[si], c.pd.lo[si], hexA(s.color, s.stacked ? 0.14 : 0.2));
    });
    ctx.restore();
  }

  // Policy marks (numbered vertical lines) and observations (diamonds with range bars).
  function drawOver(u) {
    const c = u._capsim;
    if (!c) return;
    const ctx = u.ctx;
    const dpr = devicePixelRatio || 1;
    const { left, top, width, height } = u.bbox;
    const base = dayOf(c.chart.x_start);
    ctx.save();
    ctx.beginPath();
    ctx.rect(left, top - 2 * dpr, width, height + 2 * dpr);
    ctx.clip();
    ctx.font = Math.round(10 * dpr) + "px system-ui, sans-serif";
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    const placed = [];
    (c.chart.marks || []).forEach((m) => {
      const px = u.valToPos((base + m.x) * DAY, "x", true);
      if (px < left - 1 || px > left + width + 1) return;
      ctx.strokeStyle = m.end ? "rgba(90,90,90,0.75)" : "rgba(60,60,60,0.85)";
      ctx.lineWidth = 1 * dpr;
      ctx.setLineDash(m.end ? [4 * dpr, 3 * dpr] : []);
      ctx.beginPath();
      ctx.moveTo(px, top);
      ctx.lineTo(px, top + height);
      ctx.stroke();
      ctx.setLineDash([]);
      // Stagger labels that would overlap.
      const w = ctx.measureText(m.label).width + 6 * dpr;
      let row = 0;
      while (placed.some((p) => p.row === row && Math.abs(p.x - px) < (p.w + w) / 2 + 1)) row++;
      placed.push({ x: px, w, row });
      const ly = top + 2 * dpr + row * 13 * dpr;
      ctx.fillStyle = m.end ? "#ffffff" : "#333333";
      ctx.strokeStyle = "#333333";
      ctx.beginPath();
      ctx.rect(px - w / 2, ly, w, 12 * dpr);
      ctx.fill();
      ctx.stroke();
      ctx.fillStyle = m.end ? "#333333" : "#ffffff";
      ctx.fillText(m.label, px, ly + 1 * dpr);
    });
    const obs = c.panel.observed || [];
    if (obs.length) {
      const Y = (v) => u.valToPos(v, "y", true);
      const X = (d) => u.valToPos((base + d) * DAY, "x", true);
      const ok = (v) => v != null && isFinite(v) && (!c.panel.log || v > 0);
      obs.forEach((o) => {
        if (!ok(o.value)) return;
        const px = X(o.x), py = Y(o.value);
        // The colour of the curve it measures, when the server says which (else dark); an input of
        // the scenario is hollow grey, as in the static charts.
        const curve = o.series != null && c.panel.series.find((s, i) => s.series === o.series || s.label === o.series || i === o.series);
        const color = o.color || (curve && curve.color) || "#222222";
        ctx.strokeStyle = o.input ? "#888888" : color;
        ctx.lineWidth = 1.2 * dpr;
        if (ok(o.low) && ok(o.high)) {
          ctx.beginPath();
          ctx.moveTo(px, Y(o.low));
          ctx.lineTo(px, Y(o.high));
          ctx.moveTo(px - 3 * dpr, Y(o.low));
          ctx.lineTo(px + 3 * dpr, Y(o.low));
          ctx.moveTo(px - 3 * dpr, Y(o.high));
          ctx.lineTo(px + 3 * dpr, Y(o.high));
          ctx.stroke();
        }
        if (o.span) {
          ctx.beginPath();
          ctx.moveTo(X(o.span[0]), py);
          ctx.lineTo(X(o.span[1]), py);
          ctx.stroke();
        }
        const r = 5 * dpr;
        ctx.beginPath();
        ctx.moveTo(px, py - r);
        ctx.lineTo(px + r, py);
        ctx.lineTo(px, py + r);
        ctx.lineTo(px - r, py);
        ctx.closePath();
        ctx.fillStyle = o.input ? "#ffffff" : color;
        ctx.fill();
        ctx.stroke();
      });
    }
    ctx.restore();
  }

  function tooltipHook(u) {
    const c = u._capsim;
    if (!c) return;
    const tip = c.tip;
    const i = u.cursor.idx;
    // Cursors are synced across a chart's panels; the tooltip shows on the panel under the pointer.
    if (i == null || u.cursor.left < 0 || !c.hover) {
      tip.hidden = true;
      return;
    }
    const lines = [];
    c.panel.series.forEach((s, si) => {
      if (!u.series[si + 1].show) return;
      const v = c.pd.raw[si].mean[i];
      if (v == null) return;
      const band = s.band && c.pd.raw[si].lo[i] != null
        ? " (" + fmt(c.pd.raw[si].lo[i], c.panel.unit) + " to " + fmt(c.pd.raw[si].hi[i], c.panel.unit) + ")" : "";
      lines.push(el("div", {}, el("span", { class: "swatch", style: "background:" + s.color }), s.label + ": ",
        el("strong", { text: fmt(v, c.panel.unit) }), band));
    });
    if (!lines.length) {
      tip.hidden = true;
      return;
    }
    tip.replaceChildren(el("div", { class: "tip-date", text: pointLabel(c, i) }), ...lines);
    tip.hidden = false;
    const ow = u.over.clientWidth;
    const tw = tip.offsetWidth;
    const lx = u.cursor.left + 14 + tw > ow ? u.cursor.left - tw - 14 : u.cursor.left + 14;
    tip.style.left = Math.max(0, lx) + "px";
    tip.style.top = Math.max(0, u.cursor.top - 10) + "px";
  }

  const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  // A period [d0, d1) (days since 1970-01-01) as an analyst names it: "Jul 2026", "Q3 2026", "2026",
  // a date, or "from to".
  function spanLabel(d0, d1) {
    const a = new Date(d0 * DAY * 1000), b = new Date((d1 - 1) * DAY * 1000);
    const y = a.getUTCFullYear(), m = a.getUTCMonth();
    const lastOf = (yy, mm) => new Date(Date.UTC(yy, mm + 1, 0)).getUTCDate();
    if (d1 - d0 <= 1) return isoOfDay(d0);
    if (a.getUTCDate() === 1 && b.getUTCFullYear() === y && b.getUTCDate() === lastOf(y, b.getUTCMonth())) {
      const months = b.getUTCMonth() - m + 1;
      if (months === 1) return MONTHS[m] + " " + y;
      if (months === 3 && m % 3 === 0) return "Q" + (m / 3 + 1) + " " + y;
      if (months === 12) return String(y);
    }
    return isoOfDay(d0) + " to " + isoOfDay(d1 - 1);
  }
  function pointLabel(c, i) {
    const sp = c.pd.spans && c.pd.spans[i];
    return sp ? spanLabel(sp[0], sp[1]) : isoOfTs(c.pd.x[i]);
  }

  function legendValue(c, si) {
    return (u, v, sidx, i) => {
      if (i == null) return "\u2013";
      const r = c.pd.raw[si];
      const m = r.mean[i];
      if (m == null) return "\u2013";
      const s = c.panel.series[si];
      if (s.band && r.lo[i] != null && r.hi[i] != null) {
        return fmt(m, c.panel.unit) + " (" + fmt(r.lo[i], c.panel.unit) + " to " + fmt(r.hi[i], c.panel.unit) + ")";
      }
      return fmt(m, c.panel.unit);
    };
  }

  function panelSignature(panel) {
    if (panel.heatmap) return "H" + panel.heatmap.length + ":" + panel.heatmap.map((r) => (r.label || "") + "/" + (r.sub || "")).join("|");
    return (panel.log ? "L" : "N") + panel.unit + ":" + panel.series.map((s) => s.label + "/" + s.color + "/" + s.dash + "/" + s.stacked).join("|");
  }
  function chartSignature(chart) {
    return chart.cols + "|" + chart.panels.map(panelSignature).join("||");
  }

  function panelWidth(chart) {
    const box = $("#charts");
    const w = box.clientWidth || 800;
    const cols = Math.max(1, Math.min(chart.cols || 1, w < 700 ? 1 : chart.cols || 1));
    return Math.floor((w - (cols - 1) * 16) / cols) - 2;
  }

  function makePlot(chartEntry, chart, panel, pd, range, host, chartKey) {
    const c = { chart, panel, pd, range, tip: el("div", { class: "tooltip", hidden: true, "data-testid": "tooltip", role: "status" }) };
    const series = [{
      label: "period",
      value: (u, ts, si, i) => (i == null ? "\u2013" : pointLabel(u._capsim || c, i)),
    }];
    panel.series.forEach((s, si) => {
      series.push({
        label: s.label,
        stroke: s.color,
        width: s.stacked ? 1.25 : 1.75,
        dash: DASH[s.dash] || undefined,
        spanGaps: !!pd.spanGaps[si],
        points: { show: false },
        value: legendValue(c, si),
      });
    });
    const opts = {
      title: panel.title || undefined,
      width: panelWidth(chart),
      height: 250,
      tzDate,
      series,
      scales: {
        x: { time: true },
        y: {
          distr: panel.log ? 3 : 1,
          log: 10,
          auto: true,
          range: () => c.range(),
        },
      },
      axes: [
        { stroke: "#444", grid: { stroke: "rgba(0,0,0,0.07)" }, ticks: { stroke: "rgba(0,0,0,0.2)" } },
        {
          label: panel.y_title,
          labelSize: 18,
          labelFont: "12px system-ui, sans-serif",
          stroke: "#444",
          size: 58,
          grid: { stroke: "rgba(0,0,0,0.07)" },
          ticks: { stroke: "rgba(0,0,0,0.2)" },
          values: (u, splits) => splits.map((v) => (v == null ? "" : fmt(v, panel.unit))),
        },
      ],
      cursor: {
        sync: { key: "capsim-" + chartKey, setSeries: true },
        drag: { x: true, y: false, setScale: true },
        points: { size: 7 },
      },
      legend: { live: true },
      hooks: {
        drawClear: [drawFills],
        draw: [drawOver],
        setCursor: [tooltipHook],
        setScale: [(u, key) => { if (key === "x") syncZoom(chartEntry, u); }],
      },
    };
    const data = [pd.x, ...pd.drawn];
    const u = new uPlot(opts, data, host);
    u._capsim = c;
    u.over.append(c.tip);
    // Legend entries toggle their series by keyboard too.
    $$(".u-legend .u-series", u.root).forEach((row, i) => {
      if (i === 0) return;
      row.tabIndex = 0;
      row.setAttribute("role", "button");
      row.setAttribute("aria-label", "Show or hide " + panel.series[i - 1].label);
      row.addEventListener("keydown", (ev) => {
        if (ev.key === "Enter" || ev.key === " ") {
          ev.preventDefault();
          row.click();
        }
      });
    });
    u.over.addEventListener("mouseenter", () => { c.hover = true; });
    u.over.addEventListener("mouseleave", () => { c.hover = false; c.tip.hidden = true; });
    return u;
  }

  function syncZoom(entry, src) {
    if (entry.syncing) return;
    entry.syncing = true;
    const { min, max } = src.scales.x;
    entry.panels.forEach((p) => {
      if (p.u && p.u !== src && (p.u.scales.x.min !== min || p.u.scales.x.max !== max)) p.u.setScale("x", { min, max });
    });
    entry.zoom = entry.panels.some((p) => p.u) ? zoomOf(entry, src) : null;
    entry.syncing = false;
  }
  function zoomOf(entry, u) {
    const d = u.data[0];
    const { min, max } = u.scales.x;
    if (min <= d[0] + 1 && max >= d[d.length - 1] - 1) return null;
    return { min, max };
  }

  // ---- heatmaps

  function heatColor(v) {
    // viridis, 5 stops
    const stops = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
    const t = Math.max(0, Math.min(1, v)) * (stops.length - 1);
    const i = Math.min(stops.length - 2, Math.floor(t));
    const f = t - i;
    const c = stops[i].map((a, k) => Math.round(a + (stops[i + 1][k] - a) * f));
    return "rgb(" + c.join(",") + ")";
  }

  function drawHeatmap(entry, hp) {
    const { chart, panel, canvas } = hp;
    const rows = panel.heatmap || [];
    const dpr = devicePixelRatio || 1;
    const W = panelWidth(chart);
    ctx0Font(canvas);
    const labels = rows.map((r) => [r.label, r.sub].filter(Boolean).join(" \u00b7 "));
    const measure = canvas.getContext("2d");
    const widest = Math.max(40, ...labels.map((l) => measure.measureText(l).width));
    const labelW = Math.round(Math.min(W * 0.4, widest + 12));
    const rowH = rows.length > 24 ? 12 : 18;
    const topPad = 16, axisH = 22;
    const H = topPad + rows.length * rowH + axisH;
    canvas.width = W * dpr;
    canvas.height = H * dpr;
    canvas.style.width = W + "px";
    canvas.style.height = H + "px";
    const ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, W, H);
    const x0 = labelW, x1 = W - 8;
    const X = (d) => x0 + (d / chart.x_days) * (x1 - x0);
    hp.geom = { x0, x1, topPad, rowH, rows, X };
    ctx.font = "11px system-ui, sans-serif";
    ctx.textBaseline = "middle";
    rows.forEach((r, i) => {
      const y = topPad + i * rowH;
      ctx.fillStyle = "#222";
      ctx.textAlign = "right";
      let lab = labels[i];
      while (lab && ctx.measureText(lab).width > x0 - 8 && lab.length > 4) lab = lab.slice(0, -2) + "\u2026";
      if (lab) ctx.fillText(lab, x0 - 6, y + rowH / 2);
      r.cells.forEach(([a, b, v]) => {
        const xa = X(a), xb = X(b);
        if (v == null) {
          ctx.fillStyle = "#e6e6e6";
          ctx.fillRect(xa, y + 1, Math.max(1, xb - xa), rowH - 2);
          ctx.strokeStyle = "#c8c8c8";
          ctx.beginPath();
          ctx.moveTo(xa, y + rowH - 2);
          ctx.lineTo(Math.min(xb, xa + rowH - 3), y + 1);
          ctx.stroke();
        } else {
          ctx.fillStyle = heatColor(v);
          ctx.fillRect(xa, y + 1, Math.max(1, xb - xa + 0.5), rowH - 2);
        }
      });
    });
    // Time axis: years.
    const base = dayOf(chart.x_start);
    const yA = new Date((base) * DAY * 1000).getUTCFullYear();
    const yB = new Date((base + chart.x_days) * DAY * 1000).getUTCFullYear();
    ctx.fillStyle = "#444";
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    const yAxis = topPad + rows.length * rowH + 4;
    for (let y = yA; y <= yB + 1; y++) {
      const d = dayOf(y + "-01-01") - base;
      if (d < 0 || d > chart.x_days) continue;
      ctx.fillRect(X(d), yAxis - 4, 1, 4);
      if (X(d) + 28 < x1) ctx.fillText(String(y), X(d) + 14, yAxis);
    }
    // Policy marks.
    ctx.textBaseline = "top";
    (chart.marks || []).forEach((m) => {
      const px = X(m.x);
      ctx.strokeStyle = "rgba(30,30,30,0.8)";
      ctx.setLineDash(m.end ? [4, 3] : []);
      ctx.beginPath();
      ctx.moveTo(px, topPad - 2);
      ctx.lineTo(px, topPad + rows.length * rowH);
      ctx.stroke();
      ctx.setLineDash([]);
    });
    const placed = [];
    (chart.marks || []).forEach((m) => {
      const px = X(m.x);
      const w = ctx.measureText(m.label).width + 4;
      let row = 0;
      while (placed.some((p) => p.row === row && Math.abs(p.x - px) < (p.w + w) / 2)) row++;
      placed.push({ x: px, w, row });
      if (row > 0) return; // the key under the chart lists them all
      ctx.fillStyle = "#333";
      ctx.fillText(m.label, px, 2);
    });
  }

  function ctx0Font(canvas) {
    canvas.getContext("2d").font = "11px system-ui, sans-serif";
  }

  function heatmapHover(hp, ev) {
    const g = hp.geom;
    if (!g) return;
    const rect = hp.canvas.getBoundingClientRect();
    const x = ev.clientX - rect.left, y = ev.clientY - rect.top;
    const ri = Math.floor((y - g.topPad) / g.rowH);
    const tip = hp.tip;
    if (x < g.x0 || x > g.x1 || ri < 0 || ri >= g.rows.length) {
      tip.hidden = true;
      return;
    }
    const d = ((x - g.x0) / (g.x1 - g.x0)) * hp.chart.x_days;
    const r = g.rows[ri];
    const cell = r.cells.find((c) => d >= c[0] && d < c[1]);
    if (!cell) {
      tip.hidden = true;
      return;
    }
    let label = r.label;
    for (let k = ri; !label && k >= 0; k--) label = g.rows[k].label;
    const base = dayOf(hp.chart.x_start);
    tip.replaceChildren(
      el("div", { class: "tip-date", text: spanLabel(base + cell[0], base + cell[1]) }),
      el("div", {}, (label || "") + (r.sub ? " \u00b7 " + r.sub : "") + ": ",
        el("strong", { text: cell[2] == null ? "no value" : fmt(cell[2], hp.panel.unit === "plain" ? "plain" : "percent") })));
    tip.hidden = false;
    tip.style.left = Math.min(x + 12, rect.width - tip.offsetWidth) + "px";
    tip.style.top = y + 12 + "px";
  }

  // ---- chart sections

  function renderCharts(charts, comparison) {
    const t0 = performance.now();
    state.lastCharts = charts;
    renderComparison(comparison);
    const box = $("#charts");
    const seen = new Set();
    charts.forEach((chart, ci) => {
      seen.add(chart.name);
      let entry = state.plots.get(chart.name);
      const sig = chartSignature(chart);
      if (entry && entry.sig !== sig) {
        destroyEntry(entry);
        entry = null;
      }
      if (!entry) {
        entry = buildChart(chart);
        state.plots.set(chart.name, entry);
        chartObserver().observe(entry.section);
      }
      // Charts far below the fold are drawn when they scroll near (the first ones always): the
      // first chart appears sooner, and each update redraws only what can be seen.
      entry.pending = chart;
      entry.eager = ci < EAGER_CHARTS;
      if (entry.eager || entry.visible) updateChart(entry, chart);
      else {
        entry.stale = true;
        updateHead(entry, chart);
      }
      // Keep the server's order.
      if (box.children[ci] !== entry.section) box.insertBefore(entry.section, box.children[ci] || null);
    });
    for (const [name, entry] of state.plots) {
      if (!seen.has(name)) {
        destroyEntry(entry);
        state.plots.delete(name);
      }
    }
    $("#chart-nav").replaceChildren(...charts.map((c) =>
      el("a", { href: "#chart-" + c.name, text: c.title || c.name })));
    box.dataset.updates = String(Number(box.dataset.updates || 0) + 1);
    state.renderMs = (state.renderMs || []).slice(-49);
    state.renderMs.push(Math.round(performance.now() - t0));
  }

  const EAGER_CHARTS = 3;
  let observer = null;
  function chartObserver() {
    if (!observer) {
      observer = new IntersectionObserver((items) => {
        for (const it of items) {
          const entry = state.plots.get(it.target.dataset.chart);
          if (!entry || entry.section !== it.target) continue;
          entry.visible = it.isIntersecting;
          if (entry.visible && entry.stale) updateChart(entry, entry.pending);
        }
      }, { rootMargin: "800px 0px 800px 0px" });
    }
    return observer;
  }

  function updateHead(entry, chart) {
    $("h3", entry.section).textContent = chart.title;
    $(".chart-subtitle", entry.section).textContent = chart.subtitle || "";
  }

  function destroyEntry(entry) {
    if (observer) observer.unobserve(entry.section);
    entry.panels.forEach((p) => p.u && p.u.destroy());
    entry.section.remove();
  }

  function buildChart(chart) {
    const section = el("section", { class: "chart", id: "chart-" + chart.name, "data-chart": chart.name,
      "aria-labelledby": "chart-" + chart.name + "-h" });
    const head = el("header", { class: "chart-head" },
      el("h3", { id: "chart-" + chart.name + "-h" }),
      el("p", { class: "chart-subtitle muted small" }));
    const grid = el("div", { class: "panels", style: "--cols:" + (chart.cols || 1) });
    const legendNote = el("p", { class: "chart-legend-note small muted" });
    const key = el("ol", { class: "key small", "aria-label": "Policy marks" });
    const notes = el("ul", { class: "notes small muted" });
    const source = el("p", { class: "source small muted" });
    section.append(head, grid, legendNote, key, notes, source);
    // Room for the panels until they are drawn, so that the page does not jump.
    const lines = chart.panels.filter((p) => !p.heatmap).length;
    const heat = chart.panels.filter((p) => p.heatmap).reduce((n, p) => n + p.heatmap.length * 14 + 60, 0);
    section.style.minHeight = Math.ceil(lines / Math.max(1, chart.cols || 1)) * 320 + heat + 120 + "px";
    return { sig: chartSignature(chart), section, grid, legendNote, key, notes, source, panels: [], zoom: null, chart };
  }

  function updateChart(entry, chart) {
    entry.chart = chart;
    entry.stale = false;
    entry.section.style.minHeight = "";
    updateHead(entry, chart);
    entry.section.dataset.marks = JSON.stringify((chart.marks || []).map((m) => ({ x: m.x, label: m.label, end: m.end,
      date: isoOfDay(dayOf(chart.x_start) + m.x) })));
    // Panel data; shared y ranges across line panels when the chart asks.
    const pds = chart.panels.map((p) => (p.heatmap ? null : panelData(chart, p)));
    let shared = null;
    if (chart.shared_y) {
      let mn = Infinity, mx = -Infinity;
      chart.panels.forEach((p, i) => {
        if (!pds[i]) return;
        const [a, b] = extent(pds[i], p);
        mn = Math.min(mn, a);
        mx = Math.max(mx, b);
      });
      shared = [mn, mx];
    }
    chart.panels.forEach((panel, i) => {
      let hp = entry.panels[i];
      if (panel.heatmap) {
        if (!hp) {
          const canvas = el("canvas", { class: "heatmap", role: "img",
            "aria-label": (panel.title || chart.title) + ": heatmap, one row per group, colour = value" });
          const tip = el("div", { class: "tooltip", hidden: true, role: "status", "data-testid": "tooltip" });
          const wrap = el("div", { class: "panel heat" }, panel.title ? el("div", { class: "panel-title", text: panel.title }) : null,
            el("div", { class: "heat-wrap" }, canvas, tip),
            el("div", { class: "colorbar small muted" }, el("span", { text: "0%" }), el("span", { class: "bar" }), el("span", { text: "100%" }),
              el("span", { class: "missing", text: "grey: no value" })));
          hp = { wrap, canvas, tip, chart, panel };
          canvas.addEventListener("mousemove", (ev) => heatmapHover(hp, ev));
          canvas.addEventListener("mouseleave", () => { tip.hidden = true; });
          entry.panels[i] = hp;
          entry.grid.append(wrap);
        }
        hp.chart = chart;
        hp.panel = panel;
        drawHeatmap(entry, hp);
        return;
      }
      const pd = pds[i];
      const ext = shared || extent(pd, panel);
      const range = () => yRange(panel, ext);
      if (!hp) {
        const host = el("div", { class: "panel", role: "figure",
          "aria-label": (panel.title ? panel.title + ": " : "") + panel.y_title });
        entry.grid.append(host);
        hp = { host };
        entry.panels[i] = hp;
        hp.u = makePlot(entry, chart, panel, pd, range, host, chart.name);
      } else {
        const c = hp.u._capsim;
        c.chart = chart;
        c.panel = panel;
        c.pd = pd;
        c.range = range;
        const zoom = entry.zoom;
        hp.u.setData([pd.x, ...pd.drawn], true);
        if (zoom) {
          entry.syncing = true;
          hp.u.setScale("x", zoom);
          entry.syncing = false;
        }
      }
      hp.host.dataset.log = panel.log ? "true" : "false";
      hp.host.dataset.unit = panel.unit;
    });
    // Legend notes: what the fills and diamonds mean.
    const bits = [];
    const any = (f) => chart.panels.some((p) => (p.series || []).some(f));
    if (any((s) => s.band)) bits.push("Shaded: 5th to 95th percentile across replications.");
    if (any((s) => s.stacked)) bits.push("Stacked layers are summed; each layer's own value is in the legend.");
    if (chart.panels.some((p) => (p.observed || []).length)) bits.push("\u25c6 observed, with its source's range (\u25c7 also an input of the scenario).");
    if (chart.panels.some((p) => !p.heatmap)) bits.push("Drag to zoom on dates, double-click to reset; click a legend entry to hide it.");
    entry.legendNote.textContent = bits.join(" ");
    entry.key.replaceChildren(...(chart.key || []).map((k) =>
      el("li", { "data-mark": k.label }, el("span", { class: "mark-num", text: k.label }), " ", k.text)));
    entry.notes.replaceChildren(...(chart.notes || []).map((n) => el("li", { text: n })));
    entry.source.textContent = !chart.source ? "" : /^source/i.test(chart.source) ? chart.source : "Source: " + chart.source;
  }

  function resizeCharts() {
    for (const entry of state.plots.values()) {
      entry.panels.forEach((p) => {
        if (p.u) p.u.setSize({ width: panelWidth(entry.chart), height: 250 });
        else if (p.canvas) drawHeatmap(entry, p);
      });
    }
    renderTimeline();
  }

  // ---------------------------------------------------------------- copy buttons

  async function copyText(text, btn) {
    let ok = false;
    try {
      await navigator.clipboard.writeText(text);
      ok = true;
    } catch (e) {
      const ta = el("textarea", { style: "position:fixed;left:-9999px" });
      ta.value = text;
      document.body.append(ta);
      ta.select();
      try { ok = document.execCommand("copy"); } catch (e2) { ok = false; }
      ta.remove();
    }
    const old = btn.textContent;
    btn.textContent = ok ? "Copied" : "Select and copy";
    setTimeout(() => { btn.textContent = old; }, 1500);
  }

  // ---------------------------------------------------------------- wiring

  function wire() {
    $("#scenario").addEventListener("change", (e) => chooseScenario(e.target.value).catch((err) => showMessage(err.message)));
    $("#field-search").addEventListener("input", debounce(filterFields, 120));
    $("#field-group").addEventListener("change", filterFields);
    $("#field-edited-only").addEventListener("change", filterFields);
    $("#add-policy-btn").addEventListener("click", addPolicy);
    $("#run").addEventListener("click", startRun);
    $("#cancel").addEventListener("click", cancelNewest);
    $("#check").addEventListener("click", () => runCheck());
    $("#reset-edits").addEventListener("click", () => { resetEdits(); });
    $("#replications").addEventListener("input", validReplications);
    $("#compare-run").addEventListener("change", showFolder);
    $("#compare").addEventListener("change", showFolder);
    document.addEventListener("click", (e) => {
      const b = e.target.closest("button.copy");
      if (b) {
        const t = document.getElementById(b.dataset.copyTarget);
        if (t) copyText(t.textContent, b);
      }
    });
    window.addEventListener("resize", debounce(resizeCharts, 150));
    window.addEventListener("focus", () => loadFolders());
    setInterval(() => { if (!document.hidden) loadFolders(); }, 15000);
  }

  function debounce(fn, ms) {
    let t = null;
    return (...a) => {
      clearTimeout(t);
      t = setTimeout(() => fn(...a), ms);
    };
  }

  async function main() {
    wire();
    try {
      await loadScenarios();
      await loadFolders();
      document.body.dataset.ready = "true";
    } catch (e) {
      showMessage("Could not load the scenarios: " + e.message);
    }
  }
  if (typeof uPlot === "undefined") {
    document.addEventListener("DOMContentLoaded", () => showMessage("The chart library did not load (assets/vendor/uplot)."));
  } else if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", main);
  } else {
    main();
  }
})();
