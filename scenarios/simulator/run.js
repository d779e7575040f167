#!/usr/bin/env node
'use strict';
/**
 * VoxEngine simulator CLI (the contract the fake Voximplant Management API relies on; see scenarios/README.md).
 *
 *   node scenarios/simulator/run.js [--scenario PATH]
 *
 * stdin:  one JSON object until EOF: {"custom_data": "<script_custom_data>", "secrets": {"NAME": "value"},
 *         "time_scale": 1.0}   (secrets and time_scale optional)
 * stdout: first {"ready": true, "media_session_access_url": "...", "media_session_access_secure_url": "..."},
 *         then one JSON line per VoxEngine API call, e.g. {"api": "callPSTN", "args": [...]}
 * stderr: scenario Logger output and simulator notes
 * exit:   0 after VoxEngine.terminate() (once the HTTP requests then in flight finish), 3 on an uncaught scenario
 *         error or a broken VoxEngine limit, 4 when the session is ended for it (no call for 60 s, or the lifetime
 *         cap passes without terminate), 2 on bad CLI input
 * Push mode: the scenario fetches its brief from the URL in custom data: whoever runs the CLI serves it. Pull mode
 * (custom data {"v":2,"id","m":"pull"}): whoever runs the CLI is the bot: it POSTs {"action":"brief",...} to the
 * access URL from the ready line within 30 s (scaled) and polls {"action":"events",...} there until "done".
 */
const path = require('node:path');
const { Simulation, DEFAULT_SCENARIO } = require('./voxengine');
const { LIMITS } = require('./limits');

const EXIT_USAGE = 2;

function usage(message) {
  process.stderr.write(`run.js: ${message}\nusage: node scenarios/simulator/run.js [--scenario PATH] < input.json\n`);
  process.exit(EXIT_USAGE);
}

function parseArgs(argv) {
  let scenario = DEFAULT_SCENARIO;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--scenario') {
      if (i + 1 >= argv.length) usage('--scenario needs a path');
      scenario = path.resolve(argv[++i]);
    } else if (arg.startsWith('--scenario=')) {
      scenario = path.resolve(arg.slice('--scenario='.length));
    } else if (arg === '--help' || arg === '-h') {
      process.stdout.write('usage: node scenarios/simulator/run.js [--scenario PATH] < input.json\n');
      process.exit(0);
    } else {
      usage(`unknown argument ${arg}`);
    }
  }
  return { scenario };
}

function readStdin() {
  return new Promise((resolve, reject) => {
    const chunks = [];
    process.stdin.on('data', (chunk) => chunks.push(chunk));
    process.stdin.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    process.stdin.on('error', reject);
  });
}

function parseInput(text) {
  let input;
  try {
    input = JSON.parse(text);
  } catch (e) {
    usage(`stdin is not one JSON object (${e.message})`);
  }
  if (!input || typeof input !== 'object' || Array.isArray(input)) usage('stdin must be a JSON object');
  if (typeof input.custom_data !== 'string') usage('"custom_data" must be a string');
  // Custom data holds at most 200 bytes (simulator/limits.js names the sources); StartScenarios would refuse more.
  if (Buffer.byteLength(input.custom_data, 'utf8') > LIMITS.CUSTOM_DATA_BYTES) {
    usage(`"custom_data" is ${Buffer.byteLength(input.custom_data, 'utf8')} bytes; Voximplant keeps at most ${LIMITS.CUSTOM_DATA_BYTES}`);
  }
  if (input.secrets !== undefined && (typeof input.secrets !== 'object' || input.secrets === null || Array.isArray(input.secrets))) {
    usage('"secrets" must be an object of name -> value');
  }
  const timeScale = input.time_scale === undefined || input.time_scale === null ? 1 : input.time_scale;
  if (typeof timeScale !== 'number' || !(timeScale > 0) || !Number.isFinite(timeScale)) {
    usage('"time_scale" must be a positive number');
  }
  return { customData: input.custom_data, secrets: input.secrets || {}, timeScale };
}

function writeLine(object) {
  process.stdout.write(`${JSON.stringify(object)}\n`);
}

async function main() {
  const { scenario } = parseArgs(process.argv.slice(2));
  const input = parseInput(await readStdin());
  let ready = false;
  const pending = [];
  const sim = new Simulation({
    scenarioPath: scenario,
    customData: input.customData,
    secrets: input.secrets,
    timeScale: input.timeScale,
    onApi: (record) => (ready ? writeLine(record) : pending.push(record)),
    onLog: (line) => process.stderr.write(`${line}\n`),
  });
  const { accessUrl, accessSecureUrl } = await sim.start();
  writeLine({ ready: true, media_session_access_url: accessUrl, media_session_access_secure_url: accessSecureUrl });
  ready = true;
  pending.splice(0).forEach(writeLine); // API calls made by the scenario's top-level code
  if (!sim.ended) sim.dispatchStarted();
  const { exitCode, error } = await sim.done;
  if (error) process.stderr.write(`scenario error: ${error && error.stack ? error.stack : error}\n`);
  process.stdout.write('', () => process.exit(exitCode));
}

main().catch((error) => {
  process.stderr.write(`run.js: ${error && error.stack ? error.stack : error}\n`);
  process.exit(1);
});
