// Grad-CAM panel: a test image or an uploaded PNG/JPEG, a model and a class -> the overlay.
import { api, el, writeHash, setStatus, withToken } from "./app.js";

export async function mount(root, params) {
  const { classifiers } = await api("/api/models");
  const st = {
    model: params.get("model") || classifiers[0],
    image: params.get("image") || "test:0",
    target: params.get("target") || "",
    layer: params.get("layer") || "",
  };
  const model = el("select", { id: "cam-model" }, ...classifiers.map((m) => el("option", { value: m, textContent: m })));
  model.value = st.model;
  const target = el("select", { id: "cam-target" }, el("option", { value: "", textContent: "predicted class" }));
  const file = el("input", { id: "cam-upload", type: "file", accept: "image/png,image/jpeg" });
  const thumbs = el("div", { className: "thumbs", id: "cam-thumbs" });
  const picture = el("img", { className: "big", id: "cam-image", alt: "input" });
  const over = el("img", { className: "big", id: "cam-overlay", alt: "Grad-CAM overlay" });
  const caption = el("div", { className: "hint", id: "cam-caption" });
  const probs = el("ul", { className: "probs", id: "cam-probs" });
  root.append(el("div", { className: "panel" },
    el("div", { className: "controls" },
      el("label", {}, "model", model), el("label", {}, "class to explain", target),
      el("label", {}, "test image", thumbs), el("label", {}, "or upload a PNG/JPEG (≤ 10 MB, ≤ 4096×4096)", file)),
    el("div", { className: "card" }, el("h3", { textContent: "input" }), picture),
    el("div", { className: "card" }, el("h3", { textContent: "Grad-CAM" }), over, caption, probs)));

  const listing = await api("/api/test-images?n=24");
  for (const c of listing.classes) target.append(el("option", { value: c, textContent: c }));
  target.value = st.target;
  for (const im of listing.images) {
    const t = el("img", { src: withToken(`/api/test-image/${im.index}.png`), title: `#${im.index} ${im.label}` });
    t.dataset.ref = `test:${im.index}`;
    t.onclick = () => { st.image = t.dataset.ref; run(); };
    thumbs.append(t);
  }

  async function run() {
    for (const t of thumbs.children) t.classList.toggle("sel", t.dataset.ref === st.image);
    writeHash("cam", Object.fromEntries(Object.entries(st).filter(([, v]) => v !== "")));
    caption.textContent = "computing…";
    try {
      const body = JSON.stringify({ model: st.model, image: st.image, target: st.target || null, layer: st.layer || null });
      const r = await api("/api/cam", { method: "POST", body, type: "application/json" });
      picture.src = r.image; over.src = r.overlay;
      caption.textContent = `${r.model} predicts ${r.predicted.name}; Grad-CAM of ${r.target.name} at ${r.layer}`;
      probs.replaceChildren(...r.probabilities.map((p) => el("li", {},
        el("span", { textContent: p.name, style: "width:90px" }),
        el("span", { className: "bar", style: `width:${Math.round(120 * p.p)}px` }),
        el("span", { textContent: (100 * p.p).toFixed(1) + "%" }))));
      setStatus("");
    } catch (e) { caption.textContent = ""; setStatus(e.message, true); }
  }
  model.onchange = () => { st.model = model.value; run(); };
  target.onchange = () => { st.target = target.value; run(); };
  file.onchange = async () => {
    const f = file.files[0];
    if (!f) return;
    try {
      const r = await api("/api/upload", { method: "POST", body: f, type: f.type || "application/octet-stream" });
      st.image = r.image; run();
    } catch (e) { setStatus(e.message, true); }
  };
  await run();
}
