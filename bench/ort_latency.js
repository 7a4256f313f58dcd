#!/usr/bin/env node
// ort_latency.js: times ONNX Runtime's single-input inference of the models that
// onnx_models_bench builds (torchvision classifiers, a transformer encoder block): the same
// .onnx files Ferry imports, run by onnxruntime-node (ONNX Runtime's CPU library behind Node's
// N-API; bench/install_onnxruntime installs it).
//
//   node bench/ort_latency.js --onnxruntime DIR --models-dir MODELS --model resnet18
//       [--model ...] [--threads 1] [--runs 30] [--warmup 5]
//
// DIR is where install_onnxruntime put the package (DIR/node_modules/onnxruntime-node); MODELS
// holds tests/onnx/export_torchvision.py's outputs (NAME.onnx, NAME.input.npy,
// NAME.output.npy). For each model this prints one JSON object on a line of its own, as
// torch_latency.py does:
//
//   {"model": "resnet18", "threads": 1, "version": "1.31.1", "max_abs_diff": 1.2e-06,
//    "faults_per_run": 0.0, "load_ms": 45.1, "create_ms": 80.2, "first_run_ms": 30.5,
//    "times_ms": [12.3, ...]}
//
// - threads: the session's intraOpNumThreads (interOpNumThreads 1, executionMode
//   'sequential', graphOptimizationLevel 'all', ONNX Runtime's defaults otherwise: CPU
//   execution provider, memory arena and memory patterns on).
// - max_abs_diff: largest |output - NAME.output.npy| of the first run, on NAME.input.npy.
// - load_ms: require() of the package (loads libonnxruntime.so; once per process, so 0 for the
//   models after the first). create_ms: InferenceSession.create from the file (read, parse,
//   graph optimisations, kernel preparation); first_run_ms: the first session.run after it.
//   Time to first inference is create_ms + first_run_ms.
// - times_ms: one `await session.run(feeds)` per timed run (process.hrtime.bigint), after
//   --warmup untimed runs; the input tensor is created once, before them, from NAME.input.npy
//   (its shape is the model's input shape) and fed to the session's one input, whatever its
//   name.
// - faults_per_run: the process's minor page faults over the timed runs / their number.
//
// Exit code 3: onnxruntime-node is missing from DIR or cannot be loaded (the bench then
// reports without ONNX Runtime); 2: bad arguments; 1: anything else.
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');

const kMissingPackageExitCode = 3;

function usage(message) {
  if (message) process.stderr.write(`ort_latency.js: ${message}\n`);
  process.stderr.write(
      'usage: node ort_latency.js --onnxruntime DIR --models-dir DIR --model NAME [--model ...]\n' +
      '           [--threads T] [--runs N] [--warmup N]\n');
  process.exit(2);
}

function parseArgs(argv) {
  const args = {models: [], threads: 1, runs: 30, warmup: 5, onnxruntime: '', modelsDir: ''};
  const counts = {'--threads': 'threads', '--runs': 'runs', '--warmup': 'warmup'};
  for (let i = 0; i < argv.length; ++i) {
    const flag = argv[i];
    if (flag === '--help' || flag === '-h') usage();
    if (i + 1 >= argv.length) usage(`${flag} needs a value`);
    const value = argv[++i];
    if (flag === '--model') {
      args.models.push(value);
    } else if (flag === '--models-dir') {
      args.modelsDir = value;
    } else if (flag === '--onnxruntime') {
      args.onnxruntime = value;
    } else if (flag in counts) {
      const n = Number(value);
      // --warmup 0 is allowed here; the bench passes 1 or more.
      if (!Number.isInteger(n) || n < (flag === '--warmup' ? 0 : 1) || n > 1000000) {
        usage(`${flag} needs a positive integer, got '${value}'`);
      }
      args[counts[flag]] = n;
    } else {
      usage(`unknown argument '${flag}'`);
    }
  }
  if (!args.onnxruntime || !args.modelsDir || args.models.length === 0) {
    usage('--onnxruntime, --models-dir and --model are required');
  }
  return args;
}

// Reads a .npy file of float32, little-endian, C order (what numpy.save writes for
// np.float32 arrays). Returns {shape, data: Float32Array}; throws on anything else.
function readNpyFloat32(file) {
  const bytes = fs.readFileSync(file);
  const magic = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]);  // "\x93NUMPY"
  if (bytes.length < 10 || !bytes.subarray(0, 6).equals(magic)) {
    throw new Error(`${file}: not a .npy file`);
  }
  const major = bytes[6];
  let headerLength, headerStart;
  if (major === 1) {
    headerLength = bytes.readUInt16LE(8);
    headerStart = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw new Error(`${file}: truncated header`);
    headerLength = bytes.readUInt32LE(8);
    headerStart = 12;
  } else {
    throw new Error(`${file}: unsupported .npy version ${major}`);
  }
  const dataStart = headerStart + headerLength;
  if (dataStart > bytes.length) throw new Error(`${file}: truncated header`);
  const header = bytes.subarray(headerStart, dataStart).toString('latin1');
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header);
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header);
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header);
  if (!descr || !fortran || !shapeText) throw new Error(`${file}: malformed header: ${header}`);
  if (descr[1] !== '<f4') throw new Error(`${file}: dtype '${descr[1]}' is not '<f4' (float32)`);
  if (fortran[1] !== 'False') throw new Error(`${file}: Fortran order is not supported`);
  const shape = shapeText[1].split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new Error(`${file}: bad shape (${shapeText[1]})`);
  }
  const count = shape.reduce((a, b) => a * b, 1);
  if (bytes.length - dataStart !== 4 * count) {
    throw new Error(`${file}: ${bytes.length - dataStart} data bytes for ${count} float32s`);
  }
  if (os.endianness() !== 'LE') throw new Error('a big-endian host cannot read <f4 as is');
  // Copied into a buffer of its own: the data need not be 4-byte aligned in `bytes`.
  const data = new Float32Array(count);
  new Uint8Array(data.buffer).set(bytes.subarray(dataStart));
  return {shape, data};
}

function loadOnnxRuntime(dir) {
  const packageDir = path.resolve(dir, 'node_modules', 'onnxruntime-node');
  const start = process.hrtime.bigint();
  let ort, version;
  try {
    ort = require(packageDir);
    version = require(path.join(packageDir, 'package.json')).version;
  } catch (e) {
    process.stderr.write(`ort_latency.js: cannot load onnxruntime-node from ${packageDir}: ` +
                         `${e.message}\n(install it with bench/install_onnxruntime ${dir})\n`);
    process.exit(kMissingPackageExitCode);
  }
  return {ort, version, loadMs: msSince(start)};
}

function msSince(start) {
  return Number(process.hrtime.bigint() - start) / 1e6;
}

async function timeModel(args, ort, name) {
  const prefix = path.join(args.modelsDir, name);
  const input = readNpyFloat32(prefix + '.input.npy');
  const expected = readNpyFloat32(prefix + '.output.npy');
  const options = {
    executionProviders: ['cpu'],
    intraOpNumThreads: args.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  };

  // Time to first inference: the session from the file, then one run.
  const createStart = process.hrtime.bigint();
  const session = await ort.InferenceSession.create(prefix + '.onnx', options);
  const createMs = msSince(createStart);
  if (session.inputNames.length !== 1 || session.outputNames.length < 1) {
    throw new Error(`${name}: expected one input, got ${session.inputNames.join(', ')}`);
  }
  const feeds = {[session.inputNames[0]]: new ort.Tensor('float32', input.data, input.shape)};
  const outputName = session.outputNames[0];
  const firstStart = process.hrtime.bigint();
  const first = await session.run(feeds);
  const firstRunMs = msSince(firstStart);

  const output = first[outputName];
  let maxAbsDiff = Infinity;
  if (output.type === 'float32' && output.dims.join(',') === expected.shape.join(',')) {
    maxAbsDiff = 0;
    for (let i = 0; i < expected.data.length; ++i) {
      const d = Math.abs(output.data[i] - expected.data[i]);
      if (!(d <= maxAbsDiff)) maxAbsDiff = d;  // NaN wins
    }
  }

  for (let i = 0; i < args.warmup; ++i) await session.run(feeds);
  const times = [];
  const faults = process.resourceUsage().minorPageFault;
  for (let i = 0; i < args.runs; ++i) {
    const start = process.hrtime.bigint();
    await session.run(feeds);
    times.push(msSince(start));
  }
  const faultsPerRun = (process.resourceUsage().minorPageFault - faults) / args.runs;
  await session.release();
  return {createMs, firstRunMs, maxAbsDiff, faultsPerRun, times};
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const {ort, version, loadMs: firstLoadMs} = loadOnnxRuntime(args.onnxruntime);
  let loadMs = firstLoadMs;
  for (const name of args.models) {
    const r = await timeModel(args, ort, name);
    // JSON.stringify writes Infinity and NaN as null; the bench reads a missing number as a
    // failed check.
    const diff = Number.isFinite(r.maxAbsDiff) ? r.maxAbsDiff : 1e30;
    process.stdout.write(JSON.stringify({
      model: name, threads: args.threads, version, max_abs_diff: diff,
      faults_per_run: r.faultsPerRun, load_ms: loadMs, create_ms: r.createMs,
      first_run_ms: r.firstRunMs, times_ms: r.times,
    }) + '\n');
    loadMs = 0;  // loaded once per process
  }
}

main().catch((e) => {
  process.stderr.write(`ort_latency.js: ${e.stack || e}\n`);
  process.exit(1);
});
