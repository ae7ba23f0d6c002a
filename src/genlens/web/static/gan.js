// GAN panel: a 2-D latent pad, truncation, and for heatmap generators (EqGAN-SA) draggable heatmap blobs
// over the image, for layout generators (scenes-gan-layout) draggable layout items (gan_layout.js), with the
// baseline generator's image of the same latent beside it.
import { api, el, socket, readHash, writeHash, setStatus, token } from "./app.js";
import { itemsText, layoutEditor, parseItems } from "./gan_layout.js";
import { clamp01, dragMarkers, stagePoint, wheelScale } from "./drag.js";

// Shared with tests and the benchmark: frames received and pointer-to-decoded latencies (ms).
const stats = (window.__genlens = { frames: 0, sent: 0, lastId: -1, latencies: [], arrivals: [], renderMs: [], serverMs: [], ids: [], errors: 0 });

export async function mount(root, params) {
  const { gans } = await api("/api/models");
  if (!gans.length) { root.append(el("p", { className: "hint", textContent: "no generator loaded; start genlens explore with fmnist-eqgan or a GAN folder" })); return; }
  const st = {
    model: params.get("model") || gans[0],
    seed: +(params.get("seed") || 0),
    px: +(params.get("px") || 0), py: +(params.get("py") || 0),
    psi: +(params.get("psi") || 0.8),
    baseline: params.get("baseline") !== "0",
    dcam: params.get("dcam") === "1",
    seed2: params.get("seed2") ? +params.get("seed2") : null,
    points: (params.get("pts") || "").split(";").filter(Boolean).map((p) => p.split(":").map((v) => Math.min(1, Math.max(-1, +v || 0)))),
    blobs: null, info: null,
    items: params.get("l") ? parseItems(params.get("l")) : null,
  };
  if (params.get("b") === "none") st.blobs = [];
  else if (params.get("b")) {
    st.blobs = params.get("b").split(",").map((s) => {
      const [level, x, y, sigma] = s.split(":").map(Number);
      return { level, x: clamp01(x), y: clamp01(y), sigma };
    });
  }
  const baselineName = () => st.info?.baseline ?? null; // the unconditional GAN of the same data, if loaded

  const model = el("select", { id: "gan-model" }, ...gans.map((g) => el("option", { value: g, textContent: g })));
  model.value = st.model;
  const seed = el("input", { id: "gan-seed", type: "number", min: 0, value: st.seed });
  const seed2 = el("input", { id: "gan-seed2", type: "number", min: 0, placeholder: "none: two random directions", value: st.seed2 ?? "" });
  const savePt = el("button", { id: "gan-save-point", textContent: "save point" });
  const clearPts = el("button", { id: "gan-clear-points", textContent: "clear" });
  const gif = el("button", { id: "gan-gif", textContent: "export GIF" });
  const ptsInfo = el("span", { className: "hint", id: "gan-points" });
  const psi = el("input", { id: "gan-psi", type: "range", min: 0, max: 1.5, step: 0.05, value: st.psi });
  const psiOut = el("span", { textContent: st.psi.toFixed(2) });
  const base = el("input", { id: "gan-baseline", type: "checkbox", checked: st.baseline });
  const baseLabel = el("label", { style: "flex-direction:row;gap:6px" }, base, "show the baseline");
  const dcamBox = el("input", { id: "gan-dcam", type: "checkbox", checked: st.dcam });
  const dcamLabel = el("label", { style: "flex-direction:row;gap:6px" }, dcamBox, "show what D's Grad-CAM marks");
  const newLevel = el("select", { id: "gan-newlevel" }, ...[["1", "object (level 1)"], ["2", "part (level 2)"], ["3", "detail (level 3)"]].map(([v, t]) => el("option", { value: v, textContent: t })));
  const newLabel = el("label", {}, "double-click the image to add a blob of", newLevel);
  const dot = el("div", { className: "dot" });
  const pad = el("div", { id: "gan-pad", className: "pad", title: "drag to walk the latent plane" }, dot);
  const image = el("canvas", { id: "gan-image", width: 32, height: 32 });
  const heat = el("canvas", { className: "heat", width: 32, height: 32 });
  const dcam = el("canvas", { id: "gan-dcam-overlay", className: "dcam", width: 32, height: 32 });
  const stage = el("div", { id: "gan-stage", className: "stage" }, image, heat, dcam);
  const baseCanvas = el("canvas", { id: "gan-base", className: "plain", width: 32, height: 32 });
  const baseTitle = el("h3");
  const baseCard = el("div", { className: "card" }, baseTitle, baseCanvas);
  const blobHint = el("div", { className: "hint", textContent: "Drag a blob to move what the generator draws; the large blob moves the object, small ones its parts; scroll on a blob to change its spread; double-click (or right-click) a blob to remove it." });
  // pointerrawupdate (Chromium, secure contexts such as 127.0.0.1) fires as soon as the pointer moves;
  // pointermove is aligned to animation frames, up to one frame later.
  const MOVE = "onpointerrawupdate" in window ? "pointerrawupdate" : "pointermove";
  const layout = layoutEditor(stage, st, { send: (t0) => send(t0), save: () => save(), move: MOVE });
  const frameInfo = el("div", { className: "hint", id: "gan-frame" });
  root.append(el("div", { className: "panel" },
    el("div", { className: "controls" },
      el("label", {}, "generator", model), el("label", {}, "seed", seed),
      el("label", {}, el("span", {}, "truncation ψ ", psiOut), psi),
      el("label", {}, "line to a second seed (pad x: −1 seed, +1 second seed)", seed2),
      el("label", {}, "latent plane (drag)", pad),
      el("span", { style: "display:flex;gap:6px;align-items:center" }, savePt, clearPts, gif, ptsInfo),
      baseLabel,
      dcamLabel, newLabel, blobHint, layout.controls),
    el("div", { className: "card" }, el("h3", { id: "gan-title" }), stage, frameInfo),
    baseCard));

  const save = () => {
    const p = { model: st.model, seed: st.seed, px: st.px.toFixed(3), py: st.py.toFixed(3), psi: st.psi, baseline: st.baseline ? 1 : 0, dcam: st.dcam ? 1 : 0 };
    if (st.seed2 !== null) p.seed2 = st.seed2;
    if (st.points.length) p.pts = st.points.map(([x, y]) => `${x.toFixed(3)}:${y.toFixed(3)}`).join(";");
    if (st.items && st.info?.layout) p.l = itemsText(st.items);
    if (st.blobs && st.info?.heatmaps) p.b = st.blobs.length ? st.blobs.map((b) => [b.level, b.x.toFixed(3), b.y.toFixed(3), b.sigma.toFixed(3)].join(":")).join(",") : "none";
    writeHash("gan", p);
  };
  // t0: the pointer event's time stamp (same clock as performance.now()), so latency covers the whole path.
  const send = (t0 = performance.now()) => {
    stats.sentAt = t0;
    socket.send({
      type: "gan", id: stats.sent++, model: st.model, seed: st.seed, seed2: st.seed2, px: st.px, py: st.py, psi: st.psi,
      blobs: st.info?.heatmaps ? st.blobs : null,
      items: st.info?.layout ? st.items : null,
      baseline: st.baseline && baselineName() ? baselineName() : null,
      dcam: st.dcam && !!st.info?.dcam,
      encoding: "raw", // pixels, drawn without decoding a PNG
      t0,
    });
  };

  const drawBlobs = () => {
    for (const b of stage.querySelectorAll(".blob")) b.remove();
    stage.classList.toggle("no-heat", !(st.info?.heatmaps || st.info?.layout));
    layout.draw();
    if (!st.info?.heatmaps) return;
    st.blobs.forEach((b, i) => {
      const h = el("div", { className: "blob", title: `level ${b.level}` });
      h.dataset.level = b.level; h.dataset.index = i;
      h.style.left = `${b.x * 100}%`; h.style.top = `${b.y * 100}%`;
      stage.append(h);
    });
  };
  const placeBlobs = () => {
    for (const h of stage.querySelectorAll(".blob")) {
      const b = st.blobs[+h.dataset.index];
      h.style.left = `${b.x * 100}%`; h.style.top = `${b.y * 100}%`;
    }
  };
  const placeDot = () => { dot.style.left = `${(st.px + 1) * 50}%`; dot.style.top = `${(st.py + 1) * 50}%`; };
  const drawPoints = () => {
    for (const m of pad.querySelectorAll(".saved")) m.remove();
    st.points.forEach(([x, y], i) => {
      const m = el("div", { className: "saved", textContent: String(i + 1) });
      m.style.left = `${(x + 1) * 50}%`; m.style.top = `${(y + 1) * 50}%`;
      pad.append(m);
    });
    ptsInfo.textContent = `${st.points.length} saved`;
    gif.disabled = st.points.length < 2;
  };
  savePt.onclick = () => { st.points.push([st.px, st.py]); drawPoints(); save(); };
  clearPts.onclick = () => { st.points = []; drawPoints(); save(); };
  gif.onclick = async () => {
    setStatus("rendering the GIF…");
    const body = { model: st.model, seed: st.seed, seed2: st.seed2, psi: st.psi, points: st.points,
                   blobs: st.info?.heatmaps ? st.blobs : null, items: st.info?.layout ? st.items : null };
    const res = await fetch("/api/gan/walk.gif", { method: "POST", body: JSON.stringify(body),
                                                   headers: { "X-Genlens-Token": token, "Content-Type": "application/json" } });
    if (!res.ok) { setStatus((await res.json()).error, true); return; }
    const url = URL.createObjectURL(await res.blob());
    const a = el("a", { href: url, download: `walk-seed${st.seed}.gif` });
    document.body.append(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
    window.__genlens.gifs = (window.__genlens.gifs || 0) + 1;
    setStatus("GIF saved");
  };

  async function load(keepBlobs) {
    try {
      st.info = await api(`/api/gan/info?model=${encodeURIComponent(st.model)}&seed=${st.seed}`);
    } catch (e) { setStatus(e.message, true); return; }
    if (!keepBlobs || !st.blobs) st.blobs = st.info.blobs;
    if (st.info.layout && !st.items) st.items = st.info.items; // a new seed keeps the layout: a new latent for it
    document.getElementById("gan-title").textContent = `${st.model} (${st.info.arch}), seed ${st.seed}`;
    baseTitle.textContent = `baseline (${baselineName()}), same latent`;
    baseCard.style.display = st.baseline && baselineName() ? "" : "none";
    baseLabel.style.display = baselineName() ? "" : "none";
    blobHint.style.display = st.info.heatmaps ? "" : "none";
    dcamLabel.style.display = st.info.dcam ? "" : "none";
    newLabel.style.display = st.info.heatmaps && !st.info.fixed_counts ? "" : "none";
    stage.classList.toggle("no-dcam", !(st.dcam && st.info.dcam));
    drawBlobs(); placeDot(); drawPoints(); save(); send();
  }

  // Frames: draw each part as soon as it is decoded; record the latency from the pointer event.
  // Raw parts (1 gray, 3 RGB or 4 RGBA channels) go straight into an ImageData, no decoding.
  const drawPixels = (canvas, { pixels, channels, width, height }) => {
    const rgba = new Uint8ClampedArray(width * height * 4);
    for (let i = 0, j = 0; i < width * height; i++, j += channels) {
      const g = pixels[j];
      rgba[4 * i] = g;
      rgba[4 * i + 1] = channels >= 3 ? pixels[j + 1] : g;
      rgba[4 * i + 2] = channels >= 3 ? pixels[j + 2] : g;
      rgba[4 * i + 3] = channels === 4 ? pixels[j + 3] : 255;
    }
    canvas.width = width; canvas.height = height;
    canvas.getContext("2d").putImageData(new ImageData(rgba, width, height), 0, 0);
  };
  const draw = async (canvas, blob, smooth) => {
    if (blob.pixels) { drawPixels(canvas, blob); return; }
    const bmp = await createImageBitmap(blob);
    canvas.width = bmp.width; canvas.height = bmp.height;
    const ctx = canvas.getContext("2d");
    ctx.imageSmoothingEnabled = smooth;
    ctx.drawImage(bmp, 0, 0);
    bmp.close();
  };
  const off = socket.on(async (msg) => {
    if (!msg.header) { if (msg.error) stats.errors++; return; }
    const { header, parts, arrived } = msg;
    if (header.type && header.type !== "gan") return;
    const jobs = [draw(image, parts.image, false)];
    if (parts.heat) jobs.push(draw(heat, parts.heat, true));
    if (parts.dcam) jobs.push(draw(dcam, parts.dcam, true));
    if (parts.baseline) jobs.push(draw(baseCanvas, parts.baseline, false));
    await Promise.all(jobs);
    stats.frames++; stats.lastId = header.id;
    if (stats.firstFrame === undefined) stats.firstFrame = performance.now(); // ms since navigation start
    if (header.t0 != null) {
      stats.latencies.push(performance.now() - header.t0);
      stats.arrivals.push(arrived - header.t0); // the frame's bytes on the page, before decoding
    }
    stats.renderMs.push(header.ms);
    stats.ids.push(header.id); // which request each frame answers (the benchmark keeps those sent while measuring)
    stats.serverMs.push(header.server_ms);
    frameInfo.textContent = `frame ${header.id}: render ${header.ms} ms, stale requests dropped ${header.dropped}`;
  });

  // Blob dragging: the object's blob (level 1) carries every blob with it, a part's blob moves alone.
  dragMarkers(stage, ".blob", MOVE, {
    start: () => st.blobs.map((b) => ({ ...b })),
    move: (i, { x, y }, ev, before) => {
      const b0 = before[i];
      const dx = x - b0.x, dy = y - b0.y;
      if (b0.level === 1) st.blobs = before.map((b) => ({ ...b, x: clamp01(b.x + dx), y: clamp01(b.y + dy) }));
      else st.blobs[i] = { ...b0, x, y };
      placeBlobs();
      send(ev.timeStamp);
    },
    end: save,
  });
  wheelScale(stage, ".blob", (i, f) => {
    const b = st.blobs[i];
    b.sigma = Math.min(4, Math.max(0.01, b.sigma * f));
    save(); send();
  });

  // Add and remove blobs (generators whose heatmap encoder takes any number of blobs per level).
  const canEdit = () => st.info?.heatmaps && !st.info.fixed_counts;
  const removeBlob = (h) => {
    st.blobs.splice(+h.dataset.index, 1);
    drawBlobs(); save(); send();
  };
  stage.addEventListener("dblclick", (ev) => {
    if (!canEdit()) return;
    ev.preventDefault();
    const h = ev.target.closest(".blob");
    if (h) { removeBlob(h); return; }
    const level = +newLevel.value;
    const same = st.blobs.filter((b) => b.level === level);
    const sigma = same.length ? same[0].sigma : [0.5, 0.25, 0.12][level - 1];
    st.blobs.push({ level, ...stagePoint(stage, ev), sigma });
    drawBlobs(); save(); send();
  });
  stage.addEventListener("contextmenu", (ev) => {
    const h = ev.target.closest(".blob");
    if (!h || !canEdit()) return;
    ev.preventDefault();
    removeBlob(h);
  });

  // The latent pad: drag to walk the plane through the seed's latent.
  let padDown = false;
  const padMove = (ev) => {
    const r = pad.getBoundingClientRect();
    st.px = Math.min(1, Math.max(-1, ((ev.clientX - r.left) / r.width) * 2 - 1));
    st.py = Math.min(1, Math.max(-1, ((ev.clientY - r.top) / r.height) * 2 - 1));
    placeDot(); send(ev.timeStamp);
  };
  pad.addEventListener("pointerdown", (ev) => { padDown = true; pad.setPointerCapture(ev.pointerId); padMove(ev); });
  pad.addEventListener(MOVE, (ev) => { if (padDown) padMove(ev); });
  pad.addEventListener("pointerup", () => { padDown = false; save(); });

  model.onchange = () => { st.model = model.value; st.blobs = null; st.items = null; load(false); };
  seed2.onchange = () => { st.seed2 = seed2.value === "" ? null : Math.max(0, Math.floor(+seed2.value || 0)); save(); send(); };
  seed.onchange = () => { st.seed = Math.max(0, Math.floor(+seed.value || 0)); st.blobs = null; load(false); };
  psi.oninput = () => { st.psi = +psi.value; psiOut.textContent = st.psi.toFixed(2); send(); };
  psi.onchange = save;
  base.onchange = () => { st.baseline = base.checked; load(true); };
  dcamBox.onchange = () => { st.dcam = dcamBox.checked; stage.classList.toggle("no-dcam", !st.dcam); save(); send(); };

  await load(true);
  return () => off();
}
