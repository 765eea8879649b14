#!/usr/bin/env node
// run.js - runs an ONNX file with ONNX Runtime (onnxruntime-node) for
// tests/test_onnx.sh.
//
//   node run.js MODEL.onnx IMAGES.f32 OUT.f32 [BATCH]
//
// IMAGES: raw little-endian float32 [N, C, H, W] (C, H, W read off the
// model's input); the images go through the model BATCH at a time (default:
// all N at once) and the logits [N, K] are written to OUT as raw float32.
// Prints one JSON line: what the file declares (ir_version, opset_import,
// producer, metadata_props, graph inputs and outputs with their dims, read
// by the small protobuf reader below, independent of the encoder in
// core/onnx.c) and what the runtime saw (input / output names, N, K).
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require(path.join(__dirname, 'node_modules', 'onnxruntime-node'));

// ---- a minimal protobuf reader: the fields of one message as a list
function readVarint(buf, pos) {
  let v = 0n;
  let shift = 0n;
  for (;;) {
    if (pos >= buf.length) throw new Error('truncated varint');
    const b = buf[pos++];
    v |= BigInt(b & 0x7f) << shift;
    if (!(b & 0x80)) return [v, pos];
    shift += 7n;
  }
}

function fields(buf, start = 0, end = buf.length) {
  const out = [];
  let pos = start;
  while (pos < end) {
    let key;
    [key, pos] = readVarint(buf, pos);
    const field = Number(key >> 3n);
    const wire = Number(key & 7n);
    if (wire === 0) {
      let v;
      [v, pos] = readVarint(buf, pos);
      out.push({ field, wire, v: BigInt.asIntN(64, v) });
    } else if (wire === 2) {
      let n;
      [n, pos] = readVarint(buf, pos);
      const s = pos;
      pos += Number(n);
      if (pos > end) throw new Error(`field ${field} runs past its message`);
      out.push({ field, wire, s, e: pos });
    } else if (wire === 5) {
      out.push({ field, wire, s: pos, e: pos + 4 });
      pos += 4;
    } else if (wire === 1) {
      out.push({ field, wire, s: pos, e: pos + 8 });
      pos += 8;
    } else {
      throw new Error(`wire type ${wire} at byte ${pos}`);
    }
  }
  if (pos !== end) throw new Error('message overruns its length');
  return out;
}

const str = (buf, f) => buf.toString('utf8', f.s, f.e);

function valueInfo(buf, f) {
  const vi = { name: '', elem_type: 0, dims: [] };
  for (const g of fields(buf, f.s, f.e)) {
    if (g.field === 1) vi.name = str(buf, g);
    if (g.field !== 2) continue;
    for (const t of fields(buf, g.s, g.e)) {
      if (t.field !== 1) continue; // tensor_type
      for (const tt of fields(buf, t.s, t.e)) {
        if (tt.field === 1) vi.elem_type = Number(tt.v);
        if (tt.field !== 2) continue; // shape
        for (const d of fields(buf, tt.s, tt.e)) {
          if (d.field !== 1) continue;
          for (const dv of fields(buf, d.s, d.e)) {
            if (dv.field === 1) vi.dims.push(Number(dv.v));
            if (dv.field === 2) vi.dims.push(str(buf, dv));
          }
        }
      }
    }
  }
  return vi;
}

function describe(buf) {
  const d = { ir_version: null, producer: '', opset_import: [], metadata: {}, inputs: [], outputs: [],
    nodes: 0, initializers: 0, ops: {} };
  for (const f of fields(buf)) {
    if (f.field === 1) d.ir_version = Number(f.v);
    else if (f.field === 2) d.producer = str(buf, f);
    else if (f.field === 8) {
      const o = { domain: '', version: null };
      for (const g of fields(buf, f.s, f.e)) {
        if (g.field === 1) o.domain = str(buf, g);
        if (g.field === 2) o.version = Number(g.v);
      }
      d.opset_import.push(o);
    } else if (f.field === 14) {
      let k = '';
      let v = '';
      for (const g of fields(buf, f.s, f.e)) {
        if (g.field === 1) k = str(buf, g);
        if (g.field === 2) v = str(buf, g);
      }
      d.metadata[k] = v;
    } else if (f.field === 7) {
      for (const g of fields(buf, f.s, f.e)) {
        if (g.field === 1) {
          d.nodes++;
          for (const n of fields(buf, g.s, g.e)) if (n.field === 4) d.ops[str(buf, n)] = (d.ops[str(buf, n)] || 0) + 1;
        } else if (g.field === 5) d.initializers++;
        else if (g.field === 11) d.inputs.push(valueInfo(buf, g));
        else if (g.field === 12) d.outputs.push(valueInfo(buf, g));
      }
    }
  }
  return d;
}

async function main() {
  const [model, images, out, batchArg] = process.argv.slice(2);
  if (!model || !images || !out) {
    process.stderr.write('usage: node run.js MODEL.onnx IMAGES.f32 OUT.f32 [BATCH]\n');
    process.exit(2);
  }
  const bytes = fs.readFileSync(model);
  const info = describe(bytes);
  if (info.inputs.length !== 1) throw new Error(`expected one graph input, found ${info.inputs.length}`);
  const [, C, H, W] = info.inputs[0].dims;
  const raw = fs.readFileSync(images);
  const per = C * H * W;
  if (raw.length % (4 * per)) throw new Error(`${images}: not a whole number of ${C}x${H}x${W} float32 images`);
  const N = raw.length / (4 * per);
  const x = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length));
  const batch = batchArg ? Number(batchArg) : N;

  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  const inName = session.inputNames[0];
  const outName = session.outputNames[0];
  let K = 0;
  const chunks = [];
  for (let i = 0; i < N; i += batch) {
    const n = Math.min(batch, N - i);
    const t = new ort.Tensor('float32', x.slice(i * per, (i + n) * per), [n, C, H, W]);
    const r = (await session.run({ [inName]: t }))[outName];
    if (r.dims.length !== 2 || r.dims[0] !== n) throw new Error(`output dims [${r.dims}] for a batch of ${n}`);
    K = r.dims[1];
    chunks.push(Buffer.from(r.data.buffer, r.data.byteOffset, r.data.byteLength));
  }
  fs.writeFileSync(out, Buffer.concat(chunks));
  info.runtime = { name: 'onnxruntime-node', version: require(path.join(__dirname, 'node_modules', 'onnxruntime-node',
    'package.json')).version, input: inName, output: outName, images: N, batch, classes: K };
  process.stdout.write(JSON.stringify(info) + '\n');
}

main().catch((e) => {
  process.stderr.write(`run.js: ${e.stack || e}\n`);
  process.exit(1);
});
