#!/usr/bin/env node
// bench.js - ONNX Runtime latency of an ONNX file on this machine, for
// docs/edge.md (docs/examples/onnx_latency.sh runs it).
//
//   node bench.js MODEL.onnx [BATCH] [RUNS] [THREADS]
//
// Random normal inputs [BATCH, C, H, W] (C, H, W from the model's input);
// 10 warm-up runs, then RUNS timed ones; prints one JSON line with the
// median and p90 milliseconds per run.
'use strict';
const path = require('path');
const ort = require(path.join(__dirname, 'node_modules', 'onnxruntime-node'));

async function main() {
  const [file, batchArg, runsArg, threadsArg] = process.argv.slice(2);
  const batch = Number(batchArg || 1), runs = Number(runsArg || 200), threads = Number(threadsArg || 1);
  const s = await ort.InferenceSession.create(file, {intraOpNumThreads: threads, interOpNumThreads: 1});
  const meta = s.inputMetadata ? s.inputMetadata[0] : null;
  const dims = meta && meta.shape ? meta.shape.slice(1).map(Number) : [1, 28, 28];
  const n = batch * dims.reduce((a, b) => a * b, 1);
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = Math.random() * 2 - 1;
  const feed = {images: new ort.Tensor('float32', x, [batch, ...dims])};
  for (let i = 0; i < 10; i++) await s.run(feed);
  const t = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    await s.run(feed);
    t.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  t.sort((a, b) => a - b);
  console.log(JSON.stringify({file: path.basename(file), batch, threads, runs,
                              median_ms: t[Math.floor(runs / 2)], p90_ms: t[Math.floor(runs * 0.9)]}));
}
main().catch((e) => { console.error(e); process.exit(1); });
