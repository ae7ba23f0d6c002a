// Diffusion panel: a class, a prompt or a layout, guidance, sampler, steps and seed. The denoising streams in
// step by step (the noisy image x_t beside the predicted clean image x̂0); afterwards a slider scrubs back through
// the steps the page kept. Prompts list the training captions they were anchored to. A layout model shows its
// image under draggable layout items (the GAN panel's editor); moving one samples again from the same seed.
import { api, el, socket, writeHash, setStatus } from "./app.js";
import { itemsText, layoutEditor, parseItems } from "./gan_layout.js";

const stats = (window.__diffusion = { runs: 0, steps: 0, done: 0, cancelled: 0, errors: 0, firstStepMs: [], finalMs: [] });

export async function mount(root, params) {
  const { diffusion } = await api("/api/models");
  if (!diffusion.length) { root.append(el("p", { className: "hint", textContent: "no diffusion model loaded; start genlens explore with fmnist-ddpm or a diffusion folder" })); return; }
  const st = {
    model: params.get("model") || diffusion[0], cls: params.get("class") || "", prompt: params.get("prompt") || "",
    guidance: params.get("guidance") || "", sampler: params.get("sampler") || "", steps: params.get("steps") || "",
    seed: +(params.get("seed") || 0),
  };
  const lst = { info: null, items: params.get("l") ? parseItems(params.get("l")) : null };  // layout models
  const model = el("select", { id: "dif-model" }, ...diffusion.map((m) => el("option", { value: m, textContent: m })));
  model.value = st.model;
  const cls = el("select", { id: "dif-class" });
  const ownPrompts = el("datalist", { id: "dif-own-prompts" });  // a model of its own captions: some of them
  const prompt = el("input", { id: "dif-prompt", type: "text", placeholder: "a prompt (text models), or leave empty", value: st.prompt });
  prompt.setAttribute("list", "dif-own-prompts");
  const guidance = el("input", { id: "dif-guidance", type: "number", min: 0, max: 20, step: 0.5 });
  const sampler = el("select", { id: "dif-sampler" });
  const steps = el("input", { id: "dif-steps", type: "number", min: 1, max: 1000 });
  const seed = el("input", { id: "dif-seed", type: "number", min: 0, value: st.seed });
  const go = el("button", { id: "dif-run", textContent: "denoise" });
  const stop = el("button", { id: "dif-cancel", textContent: "cancel" });
  const xt = el("canvas", { id: "dif-xt", className: "plain small", width: 28, height: 28 });
  const x0 = el("canvas", { id: "dif-x0", className: "plain small", width: 28, height: 28 });
  const scrub = el("input", { id: "dif-scrub", type: "range", min: 1, max: 1, value: 1, disabled: true });
  const stepInfo = el("div", { className: "hint", id: "dif-step" });
  const anchors = el("ol", { id: "dif-anchors", className: "anchors" });
  const anchorCard = el("div", { className: "card" }, el("h3", { textContent: "anchored to these training captions" }), anchors);
  const layoutImage = el("canvas", { id: "dif-layout-image", width: 32, height: 32 });
  const stage = el("div", { id: "dif-stage", className: "stage" }, layoutImage);
  let pending = 0;  // moving an item samples again once the pointer rests (each run restarts the denoising)
  const layout = layoutEditor(stage, lst, { send: () => { clearTimeout(pending); pending = setTimeout(run, 150); },
                                            save: () => save(), move: "pointermove" });
  const layoutCard = el("div", { className: "card", id: "dif-layout-card" },
    el("h3", { textContent: "layout: drag an item, the same seed draws it again" }), stage, layout.controls);
  root.append(el("div", { className: "panel" },
    el("div", { className: "controls" },
      el("label", {}, "model", model), el("label", {}, "class (picking one clears the prompt)", cls), el("label", {}, "prompt (text models)", prompt, ownPrompts),
      el("label", {}, "guidance s", guidance), el("label", {}, "sampler", sampler), el("label", {}, "steps", steps),
      el("label", {}, "seed", seed), el("span", { style: "display:flex;gap:6px" }, go, stop),
      el("div", { className: "hint", id: "dif-settings" })),
    layoutCard,
    el("div", { className: "card" }, el("h3", { textContent: "noisy image x_t  |  predicted clean image x̂0" }),
      el("div", { style: "display:flex;gap:8px" }, xt, x0), el("label", { className: "hint" }, "scrub through the steps", scrub), stepInfo),
    anchorCard));

  let info = null, frames = [], runId = 0, sentAt = 0;
  const save = () => {
    const p = { model: st.model, seed: st.seed };
    if (isLayout()) p.l = itemsText(lst.items);
    else if (st.prompt) p.prompt = st.prompt; else p.class = st.cls;
    for (const k of ["guidance", "sampler", "steps"]) if (st[k] !== "") p[k] = st[k];
    writeHash("diffusion", p);
  };
  const draw = async (canvas, blob) => {
    const bmp = await createImageBitmap(blob);
    canvas.width = bmp.width; canvas.height = bmp.height;
    const ctx = canvas.getContext("2d");
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(bmp, 0, 0); bmp.close();
  };
  const isLayout = () => info?.cond === "layout";
  const show = async (i) => {
    const f = frames[i - 1];
    if (!f) return;
    await Promise.all([draw(xt, f.x_t), draw(x0, f.x0)]);
    stepInfo.textContent = `step ${f.step} of ${f.total} (timestep ${f.timestep})`;
  };

  async function load() {
    try { info = await api(`/api/diffusion/info?model=${encodeURIComponent(st.model)}`); }
    catch (e) { setStatus(e.message, true); return; }
    cls.replaceChildren(...info.classes.map((c) => el("option", { value: c, textContent: c })));
    if (!info.classes.includes(st.cls)) st.cls = info.classes[0] || "";
    cls.value = st.cls;
    cls.disabled = !info.classes.length;  // a text model of its images' own captions: prompts only
    prompt.disabled = info.cond !== "text";
    if (prompt.disabled) st.prompt = "";
    if (!st.prompt && !info.classes.length && info.prompts.length) st.prompt = info.prompts[0];
    prompt.value = st.prompt;
    ownPrompts.replaceChildren(...info.prompts.map((t) => el("option", { value: t })));
    sampler.replaceChildren(...info.samplers.map((s) => el("option", { value: s, textContent: s })));
    sampler.value = st.sampler || info.recommended.sampler;
    guidance.value = st.guidance !== "" ? st.guidance : info.recommended.guidance ?? "";
    steps.value = st.steps !== "" ? st.steps : info.recommended.steps;
    anchorCard.style.display = info.cond === "text" && info.captions_from !== "images" ? "" : "none";
    layoutCard.style.display = isLayout() ? "" : "none";
    lst.info = isLayout() ? { ...info.layout, layout: true } : { layout: false };
    if (isLayout()) { cls.disabled = true; lst.items = lst.items ?? info.layout.items; }
    layout.draw();
    if (!isLayout() && !st.prompt && !st.cls) { setStatus("this model was trained on its images' own captions: type a prompt"); return; }
    run();
  }

  function run() {
    cls.classList.toggle("unused", !!st.prompt);  // a prompt wins over the class
    frames = []; runId = Date.now() % 1e9;
    scrub.disabled = true; anchors.replaceChildren();
    save();
    const msg = { type: "diffusion", id: runId, model: st.model, seed: st.seed, t0: performance.now() };
    if (isLayout()) msg.items = lst.items;
    else if (st.prompt) msg.prompt = st.prompt; else msg.class = st.cls;
    if (st.guidance !== "") msg.guidance = +st.guidance;
    if (st.sampler !== "") msg.sampler = st.sampler;
    if (st.steps !== "") msg.steps = +st.steps;
    sentAt = performance.now(); stats.runs++;
    setStatus("denoising…");
    socket.send(msg);
  }

  const off = socket.on(async (msg) => {
    const h = msg.header || msg;
    if (h.type !== "diffusion" || h.id !== runId) return;
    if (h.error) { stats.errors++; setStatus(h.error, true); return; }
    if (h.cancelled) { stats.cancelled++; setStatus("cancelled"); return; }
    if (h.kind === "start") {
      const s = h.settings;
      document.getElementById("dif-settings").textContent = `${s.sampler}, ${s.steps} steps, guidance ${s.guidance}${s.guide_model ? ", autoguided" : ""}`;
      anchors.replaceChildren(...h.anchors.map((a) => el("li", { textContent: `${a.caption} (${a.class}, cos ${a.cosine.toFixed(2)})` })));
      return;
    }
    if (h.kind === "step") {
      if (!frames.length) stats.firstStepMs.push(performance.now() - sentAt);
      frames[h.step - 1] = { ...h, x_t: msg.parts.x_t, x0: msg.parts.x0 };
      stats.steps++;
      scrub.max = h.total; scrub.value = h.step;
      await show(h.step);
      if (isLayout()) await draw(layoutImage, msg.parts.x0);
      return;
    }
    if (h.final) {
      stats.finalMs.push(performance.now() - sentAt);
      await draw(x0, msg.parts.image);
      if (isLayout()) await draw(layoutImage, msg.parts.image);
      scrub.disabled = false; scrub.max = frames.length; scrub.value = frames.length;
      stats.done++;
      setStatus(`done in ${Math.round(h.ms)} ms`);
    }
  });

  scrub.oninput = () => show(+scrub.value);
  go.onclick = run;
  stop.onclick = () => socket.send({ type: "cancel", what: "diffusion" });
  model.onchange = () => { st.model = model.value; st.prompt = ""; lst.items = null; load(); };
  cls.onchange = () => { st.cls = cls.value; st.prompt = ""; prompt.value = ""; run(); };
  prompt.onchange = () => { st.prompt = prompt.value.trim(); run(); };
  guidance.onchange = () => { st.guidance = guidance.value; run(); };
  sampler.onchange = () => { st.sampler = sampler.value; run(); };
  steps.onchange = () => { st.steps = steps.value; run(); };
  seed.onchange = () => { st.seed = Math.max(0, Math.floor(+seed.value || 0)); run(); };
  await load();
  return () => off();
}
