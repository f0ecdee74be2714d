// Writes a realistic sparse portae input as a TensorProto: float32
// [N, T, C, 65536], a few dozen occupied ports per round and channel, most
// of them stable across rounds (services), some churning (connections).
//
//   node sample.js OUT.pb [--batch 60] [--window 10] [--channels 3] [--occupied 40] [--seed 1]
'use strict';
const fs = require('fs');
const { encode } = require('./tensorproto');

const a = { batch: 60, window: 10, channels: 3, occupied: 40, seed: 1 };
const argv = process.argv.slice(2);
const out = argv.shift();
for (let i = 0; i < argv.length; i += 2) {
  const k = argv[i].replace(/^--/, '');
  if (!(k in a)) throw new Error(`unknown flag ${argv[i]}`);
  a[k] = Number(argv[i + 1]);
}
if (!out) throw new Error('usage: node sample.js OUT.pb [--batch N] [--window T] [--channels C] [--occupied K] [--seed S]');

// mulberry32: small, seeded, reproducible.
let s = a.seed >>> 0;
function rand() {
  s = (s + 0x6d2b79f5) >>> 0;
  let t = s;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

const P = 65536;
const stable = [];
for (let c = 0; c < a.channels; c++) {
  const ports = [];
  for (let k = 0; k < Math.floor(a.occupied * 0.75); k++) ports.push(rand() < 0.5 ? Math.floor(rand() * 1024) : Math.floor(rand() * P));
  stable.push(ports);
}
const data = new Float32Array(a.batch * a.window * a.channels * P);
for (let n = 0; n < a.batch; n++) {
  for (let t = 0; t < a.window; t++) {
    for (let c = 0; c < a.channels; c++) {
      const base = ((n * a.window + t) * a.channels + c) * P;
      for (const p of stable[c]) data[base + p] = 1;
      for (let k = stable[c].length; k < a.occupied; k++) data[base + 32768 + Math.floor(rand() * 28000)] = 1;
    }
  }
}
fs.writeFileSync(out, encode('occupancy', { type: 'float32', dims: [a.batch, a.window, a.channels, P], data }));
