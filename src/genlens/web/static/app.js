// The shell: token, JSON API helper, the page's one WebSocket, hash routing between panels.
import { mount as mountGan } from "./gan.js";
import { mount as mountCam } from "./cam.js";
import { mount as mountUnits } from "./units.js";
import { mount as mountDiffusion } from "./diffusion.js";
import { mount as mountInversions } from "./inversions.js";

export const token = new URLSearchParams(location.search).get("token") || "";
const panels = { gan: mountGan, diffusion: mountDiffusion, cam: mountCam, units: mountUnits, inversions: mountInversions };

export async function api(path, { method = "GET", body, type } = {}) {
  const headers = { "X-Genlens-Token": token };
  if (type) headers["Content-Type"] = type;
  const res = await fetch(path, { method, body, headers });
  const data = res.headers.get("content-type")?.includes("json") ? await res.json() : {};
  if (!res.ok) throw new Error(data.error || `${res.status} ${res.statusText}`);
  return data;
}

// A DOM element with properties and children: the one builder every panel uses.
export function el(tag, attrs = {}, ...kids) {
  const e = Object.assign(document.createElement(tag), attrs);
  e.append(...kids);
  return e;
}

export function withToken(path) {
  return path + (path.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(token);
}

// Hash routes: #panel?key=value&...; each panel keeps its state there so a view can be linked.
export function readHash() {
  const [panel, query] = location.hash.replace(/^#/, "").split("?");
  return { panel: panel || "gan", params: new URLSearchParams(query || "") };
}

export function writeHash(panel, params) {
  const q = new URLSearchParams(params).toString();
  history.replaceState(null, "", `${location.pathname}${location.search}#${panel}${q ? "?" + q : ""}`);
}

export function setStatus(text, isError = false) {
  const el = document.getElementById("status");
  el.textContent = text;
  el.classList.toggle("error", isError);
}

// One socket per page. Binary frames: [u32 header length][header JSON][parts...]. A part is a PNG Blob, or, when
// the header's `raw` names it with [channels, height, width], its uint8 pixels (rows, channels last).
class Socket {
  constructor() {
    this.handlers = new Set();
    this.ready = new Promise((resolve) => {
      const proto = location.protocol === "https:" ? "wss" : "ws";
      this.ws = new WebSocket(`${proto}://${location.host}/ws?token=${encodeURIComponent(token)}`);
      this.ws.binaryType = "arraybuffer";
      this.ws.onopen = () => resolve();
      this.ws.onclose = () => setStatus("connection closed; reload the page", true);
      this.ws.onmessage = (ev) => this.dispatch(ev.data);
    });
  }
  dispatch(data) {
    let msg;
    if (typeof data === "string") {
      msg = JSON.parse(data);
      if (msg.error) setStatus(msg.error, true);
    } else {
      const view = new DataView(data);
      const n = view.getUint32(0);
      const header = JSON.parse(new TextDecoder().decode(new Uint8Array(data, 4, n)));
      const parts = {};
      let at = 4 + n;
      for (const [name, len] of header.parts) {
        const bytes = new Uint8Array(data, at, len);
        const shape = header.raw?.[name];
        parts[name] = shape ? { pixels: bytes, channels: shape[0], height: shape[1], width: shape[2] }
          : new Blob([bytes], { type: "image/png" });
        at += len;
      }
      msg = { header, parts, arrived: performance.now() };
    }
    for (const h of this.handlers) h(msg);
  }
  async send(obj) {
    await this.ready;
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(obj));
  }
  on(handler) { this.handlers.add(handler); return () => this.handlers.delete(handler); }
}

export const socket = new Socket();
let unmount = null;

async function route() {
  const { panel, params } = readHash();
  const name = panels[panel] ? panel : "gan";
  if (unmount && unmount.panel === name) return; // same panel: it reads its own hash changes
  if (unmount) unmount.fn();
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("active", a.dataset.panel === name);
  const main = document.getElementById("main");
  main.innerHTML = "";
  main.dataset.panel = name;
  setStatus("");
  const fn = await panels[name](main, params);
  unmount = { panel: name, fn: fn || (() => {}) };
}

window.addEventListener("hashchange", route);
route();
