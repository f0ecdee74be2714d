// Runs an ONNX model in onnxruntime-node on TensorProto inputs and writes one
// <output name>.pb per output: the reference the Go engine is compared with.
//
//   node run.js MODEL --input NAME=in.pb ... --output-dir DIR [--threads N] [--repeat K]
//
// --threads 1 runs single-threaded (intra- and inter-op); 0 (default) leaves
// onnxruntime's defaults. --repeat K times K runs after one warm-up and
// prints "ort_ms mean=<ms> median=<ms> min=<ms> runs=K".
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');
const { decode, encode } = require('./tensorproto');

function parseArgs(argv) {
  const a = { inputs: [], threads: 0, repeat: 0 };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    if (k === '--input') a.inputs.push(argv[++i]);
    else if (k === '--output-dir') a.outDir = argv[++i];
    else if (k === '--threads') a.threads = Number(argv[++i]);
    else if (k === '--repeat') a.repeat = Number(argv[++i]);
    else if (!a.model) a.model = k;
    else throw new Error(`unexpected argument ${k}`);
  }
  if (!a.model) throw new Error('usage: node run.js MODEL --input NAME=in.pb ... [--output-dir DIR] [--threads N] [--repeat K]');
  return a;
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  const opts = {};
  if (a.threads > 0) {
    Object.assign(opts, { intraOpNumThreads: a.threads, interOpNumThreads: a.threads, executionMode: 'sequential' });
  }
  const session = await ort.InferenceSession.create(a.model, opts);
  const feeds = {};
  for (const spec of a.inputs) {
    const eq = spec.indexOf('=');
    if (eq <= 0) throw new Error(`--input ${spec}: want NAME=FILE.pb`);
    const t = decode(fs.readFileSync(spec.slice(eq + 1)));
    feeds[spec.slice(0, eq)] = new ort.Tensor(t.type, t.type === 'bool' ? Uint8Array.from(t.data) : t.data, t.dims);
  }
  let results = await session.run(feeds);
  if (a.repeat > 0) {
    const times = [];
    for (let i = 0; i < a.repeat; i++) {
      const t0 = process.hrtime.bigint();
      results = await session.run(feeds);
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    const mean = times.reduce((x, y) => x + y, 0) / times.length;
    times.sort((x, y) => x - y);
    console.log(`ort_ms mean=${mean.toFixed(2)} median=${times[Math.floor(times.length / 2)].toFixed(2)} min=${times[0].toFixed(2)} runs=${a.repeat}`);
  }
  if (a.outDir) {
    fs.mkdirSync(a.outDir, { recursive: true });
    for (const name of session.outputNames) {
      fs.writeFileSync(path.join(a.outDir, `${name}.pb`), encode(name, results[name]));
    }
  }
}

main().catch((e) => {
  console.error(`run.js: ${e.message}`);
  process.exit(1);
});
