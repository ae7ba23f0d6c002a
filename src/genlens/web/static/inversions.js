// Inversions panel: the classes × architectures × methods grid (cells computed on demand, cached on the
// server in the user's cache folder, each judged by the other classifiers), and a new inversion (a class, a
// unit or a prompt through the CLIP model) run in the background with progress over the socket.
import { api, el, socket, writeHash, setStatus } from "./app.js";

const stats = (window.__inversions = { progress: 0, previews: 0, done: 0, cancelled: 0, cells: 0 });

export async function mount(root, params) {
  const grid = await api("/api/inversions/grid");
  if (!grid.models.length) { root.append(el("p", { className: "hint", textContent: "no classifier loaded; start genlens explore with fmnist-cnn or a classifier folder" })); return; }
  const st = {
    models: (params.get("models") || grid.models.join(",")).split(",").filter((m) => grid.models.includes(m)),
    methods: (params.get("methods") || grid.methods.join(",")).split(",").filter((m) => grid.methods.includes(m)),
    what: params.get("what") || "class", model: params.get("model") || grid.models[0], method: params.get("method") || "pii",
    cls: params.get("class") || grid.classes[0], layer: params.get("layer") || "", unit: params.get("unit") || "0",
    prompt: params.get("prompt") || "", scale: params.get("scale") || "0.1",
  };
  const save = () => writeHash("inversions", { models: st.models.join(","), methods: st.methods.join(","), what: st.what,
    model: st.model, method: st.method, class: st.cls, layer: st.layer, unit: st.unit, prompt: st.prompt, scale: st.scale });
  const opts = (xs) => xs.map((x) => el("option", { value: x, textContent: x }));
  const checks = (xs, chosen, id) => el("span", { id, className: "checks" }, ...xs.map((x) => {
    const box = el("input", { type: "checkbox", value: x, checked: chosen.includes(x) });
    box.onchange = () => { const i = chosen.indexOf(x); if (box.checked && i < 0) chosen.push(x); if (!box.checked && i >= 0) chosen.splice(i, 1); save(); drawGrid(); };
    return el("label", { className: "check" }, box, x);
  }));

  // --- the background job ---
  const what = el("select", { id: "inv-what" }, ...opts(["class", "unit", "prompt"]));
  const model = el("select", { id: "inv-model" }, ...opts(grid.models));
  const method = el("select", { id: "inv-method" }, ...opts(grid.methods));
  const cls = el("select", { id: "inv-class" }, ...opts(grid.classes));
  const layer = el("input", { id: "inv-layer", type: "text", placeholder: "layer, e.g. stages.2.0.act" });
  const unit = el("input", { id: "inv-unit", type: "number", min: 0 });
  const prompt = el("input", { id: "inv-prompt", type: "text", placeholder: "a leather ankle boot" });
  const scale = el("input", { id: "inv-scale", type: "number", min: 0.001, max: 1, step: 0.01 });
  Object.assign(what, { value: st.what }); Object.assign(model, { value: st.model }); Object.assign(method, { value: st.method });
  Object.assign(cls, { value: st.cls }); Object.assign(layer, { value: st.layer }); Object.assign(unit, { value: st.unit });
  Object.assign(prompt, { value: st.prompt }); Object.assign(scale, { value: st.scale });
  const run = el("button", { id: "inv-run", textContent: "run inversion" });
  const cancel = el("button", { id: "inv-cancel", textContent: "cancel", disabled: true });
  const bar = el("progress", { id: "inv-progress", max: 1, value: 0 });
  const preview = el("img", { id: "inv-preview", className: "big", alt: "inversion preview" });
  const result = el("div", { id: "inv-result", className: "hint" });
  const rows = {
    model: el("label", {}, "classifier", model), method: el("label", {}, "method", method), cls: el("label", {}, "class", cls),
    layer: el("label", {}, "layer", layer), unit: el("label", {}, "unit", unit), prompt: el("label", {}, "prompt (CLIP model)", prompt),
  };
  const showRows = () => {
    const v = what.value;
    rows.model.style.display = v === "prompt" ? "none" : "";
    rows.method.style.display = rows.cls.style.display = v === "class" ? "" : "none";
    rows.layer.style.display = rows.unit.style.display = v === "unit" ? "" : "none";
    rows.prompt.style.display = v === "prompt" ? "" : "none";
  };
  const table = el("table", { id: "inv-grid", className: "grid" });
  const fill = el("button", { id: "inv-fill", textContent: "compute missing cells" });
  const stopFill = el("button", { id: "inv-stop-fill", textContent: "stop" });
  root.append(el("div", { className: "panel" },
    el("div", { className: "controls" },
      el("label", {}, "invert", what), rows.model, rows.method, rows.cls, rows.layer, rows.unit, rows.prompt,
      el("label", {}, "steps (fraction of the full recipe)", scale),
      el("span", { style: "display:flex;gap:6px" }, run, cancel), bar),
    el("div", { className: "card" }, el("h3", { textContent: "background inversion" }), preview, result),
    el("div", { className: "card wide" },
      el("h3", { textContent: `classes × architectures × methods (${grid.n} image(s) per cell at ${grid.steps_scale} of the steps; accuracy: the other classifiers' top-1)` }),
      el("div", { className: "hint" }, "architectures ", checks(grid.models, st.models, "inv-models"), " methods ", checks(grid.methods, st.methods, "inv-methods")),
      el("span", { style: "display:flex;gap:6px;margin:6px 0" }, fill, stopFill), table)));

  const cells = new Map(grid.cells.map((c) => [`${c.model}|${c.method}|${c.class}`, c]));
  const cellView = (c) => c
    ? el("figure", {}, el("img", { src: c.image, alt: `${c.class} ${c.model} ${c.method}` }),
        el("figcaption", { textContent: c.accuracy == null ? "no judge" : `${Math.round(100 * c.accuracy)} %` }))
    : el("span", { className: "hint", textContent: "·" });
  function drawGrid() {
    const cols = st.models.flatMap((m) => st.methods.map((k) => [m, k]));
    table.replaceChildren(
      el("tr", {}, el("th"), ...cols.map(([m, k]) => el("th", { textContent: `${m.replace("fmnist-", "")} ${k}` }))),
      ...grid.classes.map((c) => el("tr", {}, el("th", { textContent: c }),
        ...cols.map(([m, k]) => el("td", {}, cellView(cells.get(`${m}|${k}|${c}`)))))));
  }
  let filling = false;
  fill.onclick = async () => {
    filling = true;
    const todo = st.models.flatMap((m) => st.methods.flatMap((k) => grid.classes.map((c) => [m, k, c])))
      .filter(([m, k, c]) => !cells.has(`${m}|${k}|${c}`));
    for (const [i, [m, k, c]] of todo.entries()) {
      if (!filling) break;
      setStatus(`computing ${m} ${k} ${c} (${i + 1} of ${todo.length})…`);
      try {
        const cell = await api(`/api/inversions/cell?model=${encodeURIComponent(m)}&method=${k}&class=${encodeURIComponent(c)}`);
        cells.set(`${m}|${k}|${cell.class}`, cell); stats.cells++; drawGrid();
      } catch (e) { setStatus(e.message, true); return; }
    }
    setStatus(filling ? "grid complete" : "stopped");
    filling = false;
  };
  stopFill.onclick = () => { filling = false; };

  let jobId = 0;
  run.onclick = () => {
    Object.assign(st, { what: what.value, model: model.value, method: method.value, cls: cls.value, layer: layer.value.trim(),
                        unit: unit.value, prompt: prompt.value.trim(), scale: scale.value });
    save();
    jobId = Date.now() % 1e9;
    const msg = { type: "invert", id: jobId, what: st.what, steps_scale: +st.scale || 0.1 };
    if (st.what !== "prompt") msg.model = st.model;
    if (st.what === "class") Object.assign(msg, { method: st.method, class: st.cls });
    if (st.what === "unit") Object.assign(msg, { layer: st.layer, unit: +st.unit });
    if (st.what === "prompt") msg.prompt = st.prompt;
    bar.value = 0; result.textContent = "starting…"; cancel.disabled = false;
    socket.send(msg);
  };
  cancel.onclick = () => socket.send({ type: "cancel", what: "invert" });
  const off = socket.on((msg) => {
    const h = msg.header || msg;
    if (h.type !== "invert" || h.id !== jobId) return;
    if (h.error) { result.textContent = h.error; cancel.disabled = true; setStatus(h.error, true); return; }
    if (h.cancelled) { stats.cancelled++; result.textContent = "cancelled"; cancel.disabled = true; return; }
    if (h.kind === "progress") {
      stats.progress++;
      bar.max = h.total; bar.value = h.step;
      result.textContent = `step ${h.step} of ${h.total}, loss ${h.loss}`;
      if (msg.parts?.preview) { stats.previews++; preview.src = URL.createObjectURL(msg.parts.preview); }
      return;
    }
    if (h.final) {
      stats.done++; cancel.disabled = true; bar.value = bar.max;
      preview.src = URL.createObjectURL(msg.parts.image);
      const r = h.record;
      result.textContent = r.what === "class" ? `${r.class} from ${r.model} (${r.method}): ${r.accuracy == null ? "no other classifier to judge" : Math.round(100 * r.accuracy) + " % of the other classifiers agree"}`
        : r.what === "unit" ? `unit ${r.unit} of ${r.layer} (${r.model})` : `"${r.prompt}" through ${r.model}: cosine ${r.similarity}`;
    }
  });
  what.onchange = showRows;
  showRows(); drawGrid();
  return () => { filling = false; off(); };
}
