// Units panel: model -> layer -> unit with its feature visualisation (computed on demand, cached on
// disk), its top-activating test images, statistics, and whether it is dead.
import { api, el, writeHash, setStatus, withToken } from "./app.js";

export async function mount(root, params) {
  const { classifiers } = await api("/api/models");
  const st = { model: params.get("model") || classifiers[0], layer: params.get("layer") || "", unit: +(params.get("unit") || 0) };
  const model = el("select", { id: "units-model" }, ...classifiers.map((m) => el("option", { value: m, textContent: m })));
  model.value = st.model;
  const layer = el("select", { id: "units-layer" });
  const unit = el("input", { id: "units-unit", type: "number", min: 0, value: st.unit });
  const prev = el("button", { textContent: "◀" }), next = el("button", { textContent: "▶" });
  const vis = el("img", { className: "big", id: "units-vis", alt: "feature visualisation" });
  const visNote = el("div", { className: "hint", id: "units-vis-note" });
  const info = el("div", { id: "units-info" });
  const tops = el("div", { className: "tops", id: "units-top" });
  root.append(el("div", { className: "panel" },
    el("div", { className: "controls" },
      el("label", {}, "model", model), el("label", {}, "layer (dead units per layer)", layer),
      el("label", {}, "unit", el("span", { style: "display:flex;gap:4px" }, prev, unit, next))),
    el("div", { className: "card" }, el("h3", { textContent: "feature visualisation" }), vis, visNote),
    el("div", { className: "card" }, el("h3", { textContent: "top-activating test images" }), info, tops)));

  let layers = [];
  async function loadLayers() {
    setStatus("census of the layers…");
    try { layers = (await api(`/api/units/layers?model=${encodeURIComponent(st.model)}`)).layers; }
    catch (e) { setStatus(e.message, true); return; }
    layer.replaceChildren(...layers.map((l) => el("option", { value: l.layer, textContent: `${l.layer} (${l.dead}/${l.units} dead)` })));
    if (!layers.some((l) => l.layer === st.layer)) st.layer = layers[layers.length - 1].layer;
    layer.value = st.layer;
    setStatus("");
  }
  async function show() {
    const n = layers.find((l) => l.layer === st.layer)?.units ?? 1;
    st.unit = Math.min(n - 1, Math.max(0, st.unit));
    unit.max = n - 1; unit.value = st.unit;
    writeHash("units", st);
    const q = `model=${encodeURIComponent(st.model)}&layer=${encodeURIComponent(st.layer)}&unit=${st.unit}`;
    visNote.textContent = "computing (cached on disk afterwards)…";
    vis.onload = () => { visNote.textContent = `${st.layer} unit ${st.unit}`; };
    vis.onerror = () => { visNote.textContent = "feature visualisation failed"; };
    vis.src = withToken(`/api/units/vis.png?${q}`);
    try {
      const u = await api(`/api/units/unit?${q}`);
      info.replaceChildren(
        el("span", { className: u.dead ? "badge dead" : "badge", id: "units-dead", textContent: u.dead ? "dead" : "alive" }),
        el("span", { className: "hint", textContent: ` max ${u.max.toFixed(3)} · mean ${u.mean.toFixed(3)} ± ${u.std.toFixed(3)} over ${u.images} test images` }));
      tops.replaceChildren(...u.top.map((t) => el("figure", {},
        el("img", { src: withToken(`/api/test-image/${t.index}.png`), alt: t.label }),
        el("figcaption", { textContent: `${t.label} ${t.activation.toFixed(2)}` }))));
      setStatus("");
    } catch (e) { setStatus(e.message, true); }
  }
  model.onchange = async () => { st.model = model.value; await loadLayers(); show(); };
  layer.onchange = () => { st.layer = layer.value; st.unit = 0; show(); };
  unit.onchange = () => { st.unit = Math.floor(+unit.value || 0); show(); };
  prev.onclick = () => { st.unit--; show(); };
  next.onclick = () => { st.unit++; show(); };
  await loadLayers();
  await show();
}
