// The ishowtts web page: streams /v1/audio/speech as raw PCM and plays
// each piece with Web Audio as it arrives, so speech starts with the first
// sentence. Measured time to first audio and real-time factor are shown
// and kept in window.ishowttsLast (the browser test reads them).
"use strict";

const $ = (id) => document.getElementById(id);
let audioCtx = null;
let current = null; // { abort: AbortController, sources: [] }
let voices = [];

function apiHeaders(extra) {
  const h = Object.assign({}, extra || {});
  const key = new URLSearchParams(location.search).get("api_key");
  if (key) h["Authorization"] = "Bearer " + key;
  return h;
}

async function loadVoices() {
  const [v, m] = await Promise.all([
    fetch("/v1/voices", { headers: apiHeaders() }).then((r) => r.json()),
    fetch("/v1/models", { headers: apiHeaders() }).then((r) => r.json()),
  ]);
  voices = v.voices || [];
  const sel = $("voice");
  sel.innerHTML = "";
  for (const voice of voices) {
    const o = document.createElement("option");
    o.value = voice.id;
    o.textContent = voice.id + " (" + voice.model + ")";
    if (voice.default) o.selected = true;
    sel.appendChild(o);
  }
  const models = $("model");
  models.length = 1;
  for (const model of m.data || []) {
    const o = document.createElement("option");
    o.value = model.id;
    o.textContent = model.id;
    models.appendChild(o);
  }
  showModelControls();
}

function selectedFamily() {
  const v = voices.find((x) => x.id === $("voice").value);
  return v ? v.model : "";
}

function showModelControls() {
  const family = selectedFamily();
  for (const el of document.querySelectorAll(".model-controls")) {
    el.classList.toggle("on", el.dataset.model === family);
  }
}

function numberField(body, id) {
  const v = $(id).value;
  if (v !== "") body[id] = Number(v);
}

function requestBody() {
  const body = {
    model: $("model").value || "ishowtts",
    voice: $("voice").value,
    input: $("text").value,
    response_format: "pcm",
  };
  numberField(body, "speed");
  numberField(body, "seed");
  const family = selectedFamily();
  if (family === "f5") ["nfe_step", "cfg_strength", "sway_sampling_coef"].forEach((k) => numberField(body, k));
  if (family === "qwen3") {
    numberField(body, "temperature");
    if ($("instructions").value) body.instructions = $("instructions").value;
  }
  return body;
}

function stop() {
  if (!current) return;
  current.abort.abort();
  for (const s of current.sources) {
    try { s.stop(); } catch (e) { /* already ended */ }
  }
  current = null;
}

async function speak() {
  stop();
  $("state").textContent = "";
  $("state").className = "";
  if (!audioCtx) audioCtx = new AudioContext();
  await audioCtx.resume();
  const run = { abort: new AbortController(), sources: [] };
  current = run;
  const started = performance.now();
  const result = { ttfa_ms: null, rtf: null, samples: 0, bytes: 0, played: 0, done: false, error: null };
  window.ishowttsLast = result;
  try {
    const r = await fetch("/v1/audio/speech", {
      method: "POST",
      headers: apiHeaders({ "Content-Type": "application/json" }),
      body: JSON.stringify(requestBody()),
      signal: run.abort.signal,
    });
    if (!r.ok) {
      const e = await r.json().catch(() => ({ error: { message: r.statusText, code: r.status } }));
      throw new Error(e.error.code + ": " + e.error.message);
    }
    const rate = Number(r.headers.get("x-sample-rate")) || 22050;
    const reader = r.body.getReader();
    let playAt = audioCtx.currentTime + 0.05;
    let carry = null; // an odd byte left from the previous read
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      let bytes = value;
      if (carry) {
        bytes = new Uint8Array(carry.length + value.length);
        bytes.set(carry);
        bytes.set(value, carry.length);
        carry = null;
      }
      if (bytes.length % 2) {
        carry = bytes.slice(bytes.length - 1);
        bytes = bytes.slice(0, bytes.length - 1);
      }
      if (!bytes.length) continue;
      if (result.ttfa_ms === null) {
        result.ttfa_ms = performance.now() - started;
        $("ttfa").textContent = "first audio: " + result.ttfa_ms.toFixed(0) + " ms";
      }
      const pcm = new Int16Array(bytes.buffer, bytes.byteOffset, bytes.length / 2);
      const buf = audioCtx.createBuffer(1, pcm.length, rate);
      const ch = buf.getChannelData(0);
      for (let i = 0; i < pcm.length; i++) ch[i] = pcm[i] / 32768;
      const src = audioCtx.createBufferSource();
      src.buffer = buf;
      src.connect(audioCtx.destination);
      playAt = Math.max(playAt, audioCtx.currentTime);
      src.start(playAt);
      src.onended = () => { result.played += pcm.length; };
      playAt += buf.duration;
      run.sources.push(src);
      result.samples += pcm.length;
      result.bytes += bytes.length;
    }
    const wall = (performance.now() - started) / 1000;
    result.rtf = wall / (result.samples / rate);
    result.done = true;
    $("rtf").textContent = "RTF: " + result.rtf.toFixed(3) + " (" + (result.samples / rate).toFixed(1) + " s of audio)";
  } catch (e) {
    if (e.name === "AbortError") return;
    result.error = String(e.message || e);
    $("state").textContent = result.error;
    $("state").className = "err";
  }
}

async function cloneVoice() {
  const form = new FormData();
  form.append("name", $("clone-name").value);
  form.append("text", $("clone-text").value);
  const file = $("clone-audio").files[0];
  if (file) form.append("audio", file, file.name);
  $("clone-state").textContent = "uploading…";
  const r = await fetch("/v1/voices", { method: "POST", headers: apiHeaders(), body: form });
  const body = await r.json();
  if (r.ok) {
    $("clone-state").textContent = "added " + body.id;
    await loadVoices();
    $("voice").value = body.id;
    showModelControls();
  } else {
    $("clone-state").textContent = body.error.code + ": " + body.error.message;
  }
}

$("speak").addEventListener("click", speak);
$("stop").addEventListener("click", stop);
$("clone").addEventListener("click", cloneVoice);
$("voice").addEventListener("change", showModelControls);
loadVoices().catch((e) => { $("state").textContent = String(e); $("state").className = "err"; });
