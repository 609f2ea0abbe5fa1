// Measure on this device: runs the ONNX files the lab sent (as bytes in the component's arguments) in this
// browser with onnxruntime-web's WebAssembly CPU build, one thread, and sends the timings back once per run id.
//
// How it times: the page clock (performance.now) steps by about 0.1 ms and one call of the lab's cnn takes about
// that long, so calls are timed in batches and divided: a warm-up first, two passes of timing.warmup_ms over every
// file (without it the first batches read 2-6x slow), then timing.rounds rounds over every file in a rotated order,
// timing.batches_per_round batches of each per round, each batch sized to last about timing.batch_ms. The timing comes
// with the files (lab.deploy.browser_models.BROWSER_TIMING). Nothing else runs inside a timed batch; between batches
// the page gets a moment to draw its progress line.
//
// Before the models: the round trip from this browser to the app, timed as ROUND_TRIPS small requests to the
// server's health check (/_stcore/health, a few bytes) after one untimed request that opens the connection; the
// server takes their median. Edge & cloud sets it beside the typical networks' published round trips.
//
// The 14 MB WebAssembly runtime is kept in this browser's IndexedDB after its first download (Streamlit serves a
// component's files without an ETag, so the browser's cache would fetch it again on every page load; IndexedDB,
// unlike the Cache API, also works over plain http on a room's network).
(function () {
  "use strict";

  const MAX_CALLS_PER_BATCH = 5000;
  const ROUND_TRIPS = 7;
  const WASM_FILE = "ort-wasm-simd-threaded.wasm";
  const MJS_FILE = "ort-wasm-simd-threaded.mjs";
  const DB_NAME = "train-infer-lab-runtime";
  const STORE = "files";

  const statusLine = document.getElementById("status");
  let started = null;            // the run id measured (or being measured) by this frame

  function post(type, data) {
    window.parent.postMessage(Object.assign({ isStreamlitMessage: true, type: type }, data), "*");
  }

  function say(text, isError) {
    statusLine.textContent = text;
    statusLine.className = isError ? "error" : "";
    post("streamlit:setFrameHeight", { height: document.body.scrollHeight + 4 });
  }

  function pause() {             // between timed batches only: lets the page draw
    return new Promise((resolve) => setTimeout(resolve, 0));
  }

  // --- the runtime, kept in IndexedDB -------------------------------------------------------------------------
  function openDb() {
    return new Promise((resolve, reject) => {
      const req = indexedDB.open(DB_NAME, 1);
      req.onupgradeneeded = () => req.result.createObjectStore(STORE);
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
  }

  function dbDo(db, mode, work) {
    return new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const req = work(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(req.result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  }

  async function runtimeBinary(key, size) {
    let db = null;
    try {
      db = await openDb();
      const kept = await dbDo(db, "readonly", (s) => s.get(key));
      if (kept instanceof ArrayBuffer && kept.byteLength === size) {
        return { binary: kept, from: "storage" };
      }
    } catch (e) {
      db = null;                 // no storage here (private mode, a quota): fetch it each time
    }
    say("Downloading the WebAssembly runtime (14 MB, once: this browser keeps it)…");
    const resp = await fetch(WASM_FILE, { cache: "no-store" });
    if (!resp.ok) throw new Error("the runtime file could not be fetched (HTTP " + resp.status + ")");
    const binary = await resp.arrayBuffer();
    if (binary.byteLength !== size) throw new Error("the runtime file is " + binary.byteLength + " bytes, not " + size);
    if (db) {
      try {
        await dbDo(db, "readwrite", (s) => { s.clear(); return s.put(binary, key); });
      } catch (e) { /* full storage: measure anyway */ }
    }
    return { binary: binary, from: "network" };
  }

  async function forgetRuntime() {
    try { const db = await openDb(); await dbDo(db, "readwrite", (s) => s.clear()); } catch (e) { /* nothing kept */ }
  }

  // --- the round trip to the app ---------------------------------------------------------------------------
  function healthUrl() {         // this frame is served under <app>/component/...: the app's health check beside it
    const here = window.location.href;
    const at = here.indexOf("/component/");
    return (at >= 0 ? here.slice(0, at) : window.location.origin) + "/_stcore/health";
  }

  async function roundTrips() {
    const url = healthUrl(), times = [];
    try {
      await fetch(url, { cache: "no-store" });                // opens the connection: not timed
      for (let i = 0; i < ROUND_TRIPS; i++) {
        const t0 = performance.now();
        const resp = await fetch(url, { cache: "no-store" });
        await resp.text();
        if (!resp.ok) return null;
        times.push(performance.now() - t0);
      }
    } catch (e) {
      return null;               // no round trip measured: the models are measured all the same
    }
    return times.map((t) => Math.max(t, 0.001));
  }

  // --- timing -------------------------------------------------------------------------------------------------
  function clockStep() {         // the smallest step of performance.now() seen in 20 ms
    let last = performance.now(), best = Infinity;
    const end = last + 20;
    for (;;) {
      const t = performance.now();
      if (t !== last) { best = Math.min(best, t - last); last = t; if (t > end) break; }
    }
    return best;
  }

  function percentile(sorted, q) {   // the same rule as the server's (lab.measure.bench._percentile): nearest rank
    const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
    return sorted[i];
  }

  async function measure(args) {
    const ort = window.ort;
    if (!ort) throw new Error("onnxruntime-web did not load");
    if (typeof WebAssembly !== "object") throw new Error("this browser has no WebAssembly");
    say("Timing the round trip to the server…");
    const trips = await roundTrips();
    const runtime = await runtimeBinary("ort@" + args.runtime_version, args.wasm_bytes);
    ort.env.wasm.numThreads = 1;   // threads need cross-origin isolation, which the app's pages do not have
    ort.env.wasm.wasmBinary = runtime.binary;
    ort.env.wasm.wasmPaths = { mjs: new URL(MJS_FILE, window.location.href).href };
    const timing = args.timing;   // warmup_ms, batch_ms, rounds, batches_per_round
    const step = clockStep();
    const input = new Float32Array(args.example.slice().buffer);
    const feeds = () => ({ [args.input_name]: new ort.Tensor("float32", input, args.shape) });
    const files = [];
    for (let i = 0; i < args.models.length; i++) {
      const name = args.models[i];
      say("Loading " + name + " (" + (i + 1) + " of " + args.models.length + ")…");
      let session;
      try {
        session = await ort.InferenceSession.create(args["model_" + i].slice(),
          { executionProviders: ["wasm"], graphOptimizationLevel: "all" });
      } catch (e) {
        if (runtime.from === "storage" && i === 0) await forgetRuntime();
        throw e;
      }
      const input_feeds = feeds();
      const out = await session.run(input_feeds);
      const logits = Array.from(out[args.output_name].data, Number);
      files.push({ name: name, session: session, feeds: input_feeds, n: 1, means: [], logits: logits });
    }
    // Warm-up, untimed for the figures: two passes over every file. The browser first runs WebAssembly from a
    // quick baseline compile and swaps in optimised code a second or so later (seen: 1.9 ms a call at first,
    // 0.3 ms from about 1 s on); the second pass, on the optimised code, sizes each file's batches.
    for (let pass = 0; pass < 2; pass++) {
      for (const f of files) {
        say("Warming up " + f.name + "…");
        await pause();
        let calls = 0;
        const t0 = performance.now();
        while (performance.now() - t0 < timing.warmup_ms) { await f.session.run(f.feeds); calls++; }
        const perCall = (performance.now() - t0) / calls;
        f.n = Math.max(1, Math.min(MAX_CALLS_PER_BATCH, Math.ceil(timing.batch_ms / perCall)));
      }
    }
    for (let r = 0; r < timing.rounds; r++) {
      const order = files.slice(r % files.length).concat(files.slice(0, r % files.length));
      for (const f of order) {
        say("Measuring " + f.name + ": round " + (r + 1) + " of " + timing.rounds + "…");
        await pause();
        for (let b = 0; b < timing.batches_per_round; b++) {
          const start = performance.now();
          for (let i = 0; i < f.n; i++) await f.session.run(f.feeds);
          f.means.push((performance.now() - start) / f.n);
        }
      }
    }
    const versions = files.map((f) => {
      const sorted = f.means.slice().sort((a, b) => a - b);
      return { name: f.name, p50_ms: percentile(sorted, 0.5), p95_ms: percentile(sorted, 0.95),
               batches: sorted.length, calls_per_batch: f.n, logits: f.logits };
    });
    for (const f of files) { try { await f.session.release(); } catch (e) { /* freed with the page */ } }
    return {
      run_id: args.run_id, error: null, versions: versions,
      user_agent: navigator.userAgent, hardware_concurrency: navigator.hardwareConcurrency || null,
      runtime_version: (ort.env.versions && ort.env.versions.web) || args.runtime_version,
      timer_step_ms: Number.isFinite(step) ? step : null, runtime_from: runtime.from, round_trip_ms: trips,
    };
  }

  window.addEventListener("message", (event) => {
    const data = event.data;
    if (!data || data.type !== "streamlit:render") return;
    const args = data.args || {};
    if (data.theme && data.theme.font) document.body.style.fontFamily = data.theme.font;   // the page's own type
    if (!args.run_id || args.run_id === started) return;   // a rerun re-sends the same arguments: measure once
    started = args.run_id;
    measure(args).then((result) => {
      say("Measured in this browser: the figures are on the page below.");
      post("streamlit:setComponentValue", { value: result, dataType: "json" });
    }).catch((e) => {
      const message = String((e && e.message) || e).slice(0, 300);
      say("Could not measure in this browser: " + message, true);
      post("streamlit:setComponentValue", { value: { run_id: args.run_id, error: message }, dataType: "json" });
    });
  });

  post("streamlit:componentReady", { apiVersion: 1 });
  say(statusLine.textContent);
})();
