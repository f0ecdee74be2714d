// Minimal onnx.TensorProto reader and writer (dims, data_type, name, raw_data
// and the typed data fields), enough for test and benchmark tensors.
'use strict';

const TYPES = {
  1: ['float32', Float32Array, 4], 2: ['uint8', Uint8Array, 1], 3: ['int8', Int8Array, 1],
  6: ['int32', Int32Array, 4], 7: ['int64', BigInt64Array, 8], 9: ['bool', Uint8Array, 1],
  11: ['float64', Float64Array, 8],
};

function readVarint(buf, pos) {
  let v = 0n, shift = 0n, b;
  do {
    if (pos >= buf.length) throw new Error('truncated varint');
    b = buf[pos++];
    v |= BigInt(b & 0x7f) << shift;
    shift += 7n;
  } while (b & 0x80);
  return [v, pos];
}

// decode returns {name, type, dims, data} with data a typed array.
function decode(buf) {
  let pos = 0, name = '', type = 0, raw = null;
  const dims = [], floats = [], ints = [], int64s = [], doubles = [];
  while (pos < buf.length) {
    let tag;
    [tag, pos] = readVarint(buf, pos);
    const field = Number(tag >> 3n), wire = Number(tag & 7n);
    if (wire === 0) {
      let v;
      [v, pos] = readVarint(buf, pos);
      if (field === 1) dims.push(Number(v));
      else if (field === 2) type = Number(v);
      else if (field === 5) ints.push(Number(BigInt.asIntN(64, v)));
      else if (field === 7) int64s.push(BigInt.asIntN(64, v));
    } else if (wire === 2) {
      let len;
      [len, pos] = readVarint(buf, pos);
      const body = buf.subarray(pos, pos + Number(len));
      pos += Number(len);
      const dv = new DataView(body.buffer, body.byteOffset, body.byteLength);
      if (field === 8) name = body.toString('utf8');
      else if (field === 9) raw = body;
      else if (field === 4) for (let i = 0; i < body.length; i += 4) floats.push(dv.getFloat32(i, true));
      else if (field === 10) for (let i = 0; i < body.length; i += 8) doubles.push(dv.getFloat64(i, true));
      else if (field === 1 || field === 5 || field === 7) {
        let p = 0;
        while (p < body.length) {
          let v;
          [v, p] = readVarint(body, p);
          if (field === 1) dims.push(Number(v));
          else if (field === 5) ints.push(Number(BigInt.asIntN(64, v)));
          else int64s.push(BigInt.asIntN(64, v));
        }
      }
    } else if (wire === 5) {
      if (field === 4) floats.push(buf.readFloatLE(pos));
      pos += 4;
    } else if (wire === 1) {
      if (field === 10) doubles.push(buf.readDoubleLE(pos));
      pos += 8;
    } else {
      throw new Error(`unsupported wire type ${wire}`);
    }
  }
  const t = TYPES[type];
  if (!t) throw new Error(`tensor ${name}: data type ${type} not supported`);
  const [typeName, Arr, size] = t;
  let data;
  if (raw) {
    // A fresh ArrayBuffer: typed arrays need an offset aligned to their size.
    const copy = raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length);
    data = new Arr(copy, 0, raw.length / size);
  } else if (type === 1) data = Float32Array.from(floats);
  else if (type === 11) data = Float64Array.from(doubles);
  else if (type === 7) data = BigInt64Array.from(int64s);
  else data = Arr.from(ints);
  return { name, type: typeName, dims, data };
}

function writeVarint(out, v) {
  v = BigInt.asUintN(64, BigInt(v));
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
}

// encode writes a TensorProto with raw_data from an onnxruntime Tensor.
function encode(name, tensor) {
  const code = { float32: 1, uint8: 2, int8: 3, int32: 6, int64: 7, bool: 9, float64: 11 }[tensor.type];
  if (!code) throw new Error(`output ${name}: type ${tensor.type} not supported`);
  const head = [];
  for (const d of tensor.dims) { head.push(1 << 3); writeVarint(head, d); }
  head.push(2 << 3); writeVarint(head, code);
  const nameBuf = Buffer.from(name, 'utf8');
  head.push((8 << 3) | 2); writeVarint(head, nameBuf.length);
  const d = tensor.data;
  const raw = Buffer.from(d.buffer, d.byteOffset, d.byteLength);
  const tail = [(9 << 3) | 2];
  writeVarint(tail, raw.length);
  return Buffer.concat([Buffer.from(head), nameBuf, Buffer.from(tail), raw]);
}

module.exports = { decode, encode };
