// Markers dragged and scaled on an image stage: the one pointer recipe of the GAN panel's heatmap blobs and of
// the layout items (GAN and diffusion panels). Positions are stage fractions, x right and y down in [0, 1].

export const clamp01 = (v) => Math.min(1, Math.max(0, v));

// The pointer's position on the stage as fractions of its box, clamped to it.
export function stagePoint(stage, ev) {
  const r = stage.getBoundingClientRect();
  return { x: clamp01((ev.clientX - r.left) / r.width), y: clamp01((ev.clientY - r.top) / r.height) };
}

// Drag the stage's markers matching `selector` (each with data-index); pointer capture keeps the drag while the
// pointer leaves the marker. moveEvent: "pointerrawupdate" where the page may use it, else "pointermove".
// start(i) -> a value handed to every move (e.g. the positions when the drag began); move(i, point, ev, started);
// end() once the pointer is released. A press on an element matching `ignore` (a remove button) is not a drag.
export function dragMarkers(stage, selector, moveEvent, { start = () => null, move, end, ignore = null }) {
  let drag = null;
  stage.addEventListener("pointerdown", (ev) => {
    const m = ev.target.closest(selector);
    if (!m || (ignore && ev.target.closest(ignore))) return;
    ev.preventDefault();
    m.setPointerCapture(ev.pointerId);
    m.classList.add("dragging");
    drag = { m, i: +m.dataset.index, started: start(+m.dataset.index) };
  });
  stage.addEventListener(moveEvent, (ev) => {
    if (drag) move(drag.i, stagePoint(stage, ev), ev, drag.started);
  });
  const stop = () => {
    if (!drag) return;
    drag.m.classList.remove("dragging");
    drag = null;
    end();
  };
  stage.addEventListener("pointerup", stop);
  stage.addEventListener("pointercancel", stop);
}

// Scroll on a marker to scale it: scale(i, factor), factor 1.1 per notch up and 1 / 1.1 per notch down.
export function wheelScale(stage, selector, scale) {
  stage.addEventListener("wheel", (ev) => {
    const m = ev.target.closest(selector);
    if (!m) return;
    ev.preventDefault();
    scale(+m.dataset.index, ev.deltaY < 0 ? 1.1 : 1 / 1.1);
  }, { passive: false });
}
