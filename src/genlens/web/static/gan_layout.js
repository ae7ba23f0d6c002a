// Layout items on the GAN panel's image, for layout-conditioned generators (scenes-gan-layout): one draggable
// marker per item, labelled with its class, and the item's box (its size) outlined. Drag a marker to move its
// object (the image re-renders while dragging), scroll on it to resize, double-click it or click its × to remove
// it; a class selector and "add item" add one. Items are canvas coordinates, x right and y down in [0, 1].
import { el } from "./app.js";
import { clamp01, dragMarkers, wheelScale } from "./drag.js";

const MIN_SIZE = 0.05;

// The hash form: cls:x:y:size items joined by ","; "none" for an empty layout.
export function parseItems(text) {
  if (text === "none") return [];
  return text.split(",").filter(Boolean).map((s) => {
    const [cls, x, y, size] = s.split(":").map(Number);
    return { cls: Math.max(0, Math.floor(cls) || 0), x: clamp01(x || 0), y: clamp01(y || 0),
             size: size > 0 ? Math.min(1, Math.max(MIN_SIZE, size)) : null };
  });
}

export function itemsText(items) {
  if (!items.length) return "none";
  return items.map((it) => [it.cls, it.x.toFixed(3), it.y.toFixed(3), (it.size ?? 0).toFixed(3)].join(":")).join(",");
}

const colour = (cls) => `hsl(${(cls * 137) % 360}, 85%, 55%)`;

// st: the panel's state (st.info from /api/gan/info, st.items); send(t0) renders, save() writes the hash.
export function layoutEditor(stage, st, { send, save, move }) {
  const cls = el("select", { id: "gan-class" });
  const add = el("button", { id: "gan-add-item", textContent: "add item" });
  const controls = el("div", { className: "layout-controls" },
    el("label", {}, "class of a new item", cls), add,
    el("div", { className: "hint", textContent: "Drag a marker to move its object; scroll on it to change its size; double-click it (or click its ×) to remove it." }));

  const size = (it) => it.size ?? st.info.typical_sizes[Math.max(0, st.items.length - 1)];
  const place = () => {
    for (const m of stage.querySelectorAll(".item, .item-box")) {
      const it = st.items[+m.dataset.index];
      if (m.classList.contains("item")) { m.style.left = `${it.x * 100}%`; m.style.top = `${it.y * 100}%`; continue; }
      const s = size(it);
      Object.assign(m.style, { left: `${(it.x - s / 2) * 100}%`, top: `${(it.y - s / 2) * 100}%`, width: `${s * 100}%`, height: `${s * 100}%` });
    }
  };
  const draw = () => {
    for (const m of stage.querySelectorAll(".item, .item-box")) m.remove();
    const on = !!st.info?.layout;
    controls.style.display = on ? "" : "none";
    if (!on) return;
    const names = st.info.class_names;
    if (cls.dataset.for !== names.join("|")) {
      cls.replaceChildren(...names.map((n, i) => el("option", { value: i, textContent: n })));
      cls.dataset.for = names.join("|");
    }
    st.items.forEach((it, i) => {
      const name = names[it.cls] ?? `class ${it.cls}`;
      const box = el("div", { className: "item-box" });
      const marker = el("div", { className: "item", title: `${name}: drag to move, scroll to resize` },
        el("span", { className: "label", textContent: name }),
        el("span", { className: "remove", textContent: "×", title: "remove" }));
      box.style.borderColor = marker.style.background = colour(it.cls);
      box.dataset.index = marker.dataset.index = i;
      stage.append(box, marker);
    });
    place();
    add.disabled = st.items.length >= st.info.max_items;
    add.title = add.disabled ? `this model was trained with at most ${st.info.max_items} items` : "";
  };
  const remove = (i) => { st.items.splice(i, 1); draw(); save(); send(); };

  add.onclick = () => {
    const n = st.items.length + 1;
    st.items.push({ cls: +cls.value, x: 0.5, y: 0.5, size: st.info.typical_sizes[n - 1] ?? 0.3 });
    draw(); save(); send();
  };
  dragMarkers(stage, ".item", move, {
    ignore: ".remove",
    move: (i, { x, y }, ev) => { st.items[i] = { ...st.items[i], x, y }; place(); send(ev.timeStamp); },
    end: save,
  });
  stage.addEventListener("click", (ev) => {
    const x = ev.target.closest(".item .remove");
    if (x) remove(+x.parentElement.dataset.index);
  });
  stage.addEventListener("dblclick", (ev) => {
    const m = ev.target.closest(".item");
    if (m && !ev.target.closest(".remove")) { ev.preventDefault(); remove(+m.dataset.index); }
  });
  wheelScale(stage, ".item", (i, f) => {
    const it = st.items[i];
    it.size = Math.min(1, Math.max(MIN_SIZE, size(it) * f));
    place(); save(); send();
  });

  return { controls, draw };
}
