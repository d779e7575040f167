'use strict';
// The CLI contract used by the Python fake Voximplant Management API: stdin JSON in, a ready line first, one
// JSON line per API call, exit codes 0 / 3 / 4.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { startCallbackServer, hangup, pullBot, pullLaunchData, TOKEN, OPENAI_KEY } = require('../testkit/harness');

const RUN = path.resolve(__dirname, '..', 'simulator', 'run.js');

/**
 * Spawns the CLI and feeds it `input`. `onReady(readyLine)` runs as soon as the first stdout line arrives.
 * Resolves to {code, lines (parsed stdout lines), stdout, stderr}.
 */
function runCli(input, { args = [], onReady, timeoutMs = 10000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [RUN, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let readySeen = false;
    const pending = [];
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`CLI did not exit within ${timeoutMs} ms; stderr: ${stderr}`));
    }, timeoutMs);
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      if (!readySeen && stdout.includes('\n')) {
        readySeen = true;
        if (onReady) pending.push(Promise.resolve(onReady(JSON.parse(stdout.split('\n')[0]))));
      }
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', async (code) => {
      clearTimeout(timer);
      try {
        await Promise.all(pending);
        const lines = stdout.split('\n').filter(Boolean).map((line) => JSON.parse(line));
        resolve({ code, lines, stdout, stderr });
      } catch (error) {
        reject(error);
      }
    });
    child.stdin.end(typeof input === 'string' ? input : JSON.stringify(input));
  });
}

const tempDirs = [];
test.after(() => tempDirs.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));

function tempScenario(source) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'callbot-scenario-'));
  tempDirs.push(dir);
  const file = path.join(dir, 'scenario.js');
  fs.writeFileSync(file, source);
  return file;
}

test('CLI: stdin JSON in, ready line first, API lines, exit 0 after terminate; no secret on any stream', async () => {
  const bot = await startCallbackServer();
  try {
    const { code, lines, stdout, stderr } = await runCli({
      custom_data: bot.customData(),
      secrets: { OPENAI_API_KEY: OPENAI_KEY },
      time_scale: 0.02,
    });
    assert.equal(code, 0, stderr);
    const [ready, ...apis] = lines;
    assert.equal(ready.ready, true);
    assert.match(ready.media_session_access_url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    assert.equal(ready.media_session_access_secure_url, ready.media_session_access_url);
    assert.deepEqual(Object.keys(ready).sort(), ['media_session_access_secure_url', 'media_session_access_url', 'ready']);
    const names = apis.map((l) => l.api);
    assert.ok(apis.every((l) => typeof l.api === 'string'), 'every later line is an API record');
    assert.deepEqual(apis.find((l) => l.api === 'callPSTN'), { api: 'callPSTN', args: ['+14155550100', '+14155559999', { amd: '[amd amd-1]' }] });
    assert.equal(apis.find((l) => l.api === 'createRealtimeAPIClient').args[0].apiKey, '***');
    assert.ok(names.includes('sendMediaBetween'));
    assert.equal(names.at(-1), 'terminate');
    assert.ok(!stdout.includes(OPENAI_KEY) && !stderr.includes(OPENAI_KEY), 'the OpenAI key never printed');
    assert.ok(!stdout.includes(TOKEN) && !stderr.includes(TOKEN), 'the callback token never printed');
    assert.match(stderr, /callbot: call call-0001: dialling on channel pstn/, 'Logger output goes to stderr');
    assert.equal(bot.events.at(-1).event, 'disconnected');
  } finally {
    await bot.close();
  }
});

test('CLI: the access URL from the ready line hangs up the call', async () => {
  const bot = await startCallbackServer();
  let answer;
  try {
    const { code, lines, stderr } = await runCli(
      { custom_data: bot.customData({ destination: '+14155550177' }), secrets: { OPENAI_API_KEY: OPENAI_KEY }, time_scale: 0.05 },
      {
        onReady: async (ready) => {
          await bot.waitFor((events) => events.some((e) => e.event === 'connected'));
          answer = await hangup(ready.media_session_access_secure_url);
        },
      },
    );
    assert.equal(code, 0, stderr);
    assert.deepEqual(answer.json, { ok: true });
    assert.ok(lines.some((l) => l.api === 'hangup'));
    assert.equal(bot.events.at(-1).data.reason, 'hangup_requested');
  } finally {
    await bot.close();
  }
});

test('CLI, pull mode: the runner delivers the brief and polls at the ready line\'s URL; no request from the session', async () => {
  let bot;
  const { code, lines, stderr } = await runCli(
    { custom_data: pullLaunchData(), secrets: { OPENAI_API_KEY: OPENAI_KEY }, time_scale: 0.05 },
    {
      onReady: async (ready) => {
        bot = await pullBot(ready.media_session_access_secure_url);
      },
    },
  );
  assert.equal(code, 0, stderr);
  assert.equal(bot.ended, 'done');
  assert.deepEqual(bot.events.map((e) => e.event).slice(0, 4), ['started', 'dialing', 'ringing', 'connected']);
  assert.equal(bot.events.at(-1).event, 'disconnected');
  assert.ok(!lines.some((l) => l.api === 'httpRequestAsync'), 'the session made no HTTP request');
  assert.deepEqual(lines.slice(1).map((l) => l.api).slice(0, 1), ['customData']);
  assert.equal(lines.at(-1).api, 'terminate');
});

test('CLI: --scenario runs another file; an uncaught async error exits 3 and is printed', async () => {
  const file = tempScenario(`
    VoxEngine.addEventListener(AppEvents.Started, function () {
      Promise.resolve().then(function () { throw new Error("async boom"); });
    });
  `);
  const { code, lines, stderr } = await runCli({ custom_data: '' }, { args: ['--scenario', file] });
  assert.equal(code, 3);
  assert.equal(lines[0].ready, true, 'the ready line still comes first');
  assert.match(stderr, /async boom/);
});

test('CLI: a typo in a VoxEngine name exits 3 naming the property', async () => {
  const file = tempScenario(`
    VoxEngine.addEventListener(AppEvents.Started, function () {
      var call = VoxEngine.callPSTN("+14155550100", "+14155559999");
      call.addEventListener(CallEvents.Conected, function () {});
    });
  `);
  const { code, stderr } = await runCli({ custom_data: '', time_scale: 0.01 }, { args: ['--scenario', file] });
  assert.equal(code, 3);
  assert.match(stderr, /CallEvents\.Conected is not a VoxEngine API name/);
});

test('CLI: no terminate within the (scaled) 2 h session lifetime exits 4', async () => {
  // A call that stays up (outcome "hold"), so that VoxEngine's 60 s rule for a session without calls does not apply.
  const file = tempScenario(
    'VoxEngine.addEventListener(AppEvents.Started, function () { VoxEngine.callPSTN("+14155550177", "+14155559999"); });',
  );
  const started = Date.now();
  const { code, stderr } = await runCli({ custom_data: '', time_scale: 0.00005 }, { args: ['--scenario', file] });
  assert.equal(code, 4);
  assert.match(stderr, /no VoxEngine\.terminate\(\) within the 7200 s session lifetime/);
  assert.ok(Date.now() - started < 5000);
});

test('CLI: input that is not a JSON object exits 2 with a usage message', async () => {
  const { code, lines, stderr } = await runCli('custom_data=1');
  assert.equal(code, 2);
  assert.equal(lines.length, 0, 'no ready line for bad input');
  assert.match(stderr, /stdin is not one JSON object/);
});

test('CLI: custom data over 200 bytes exits 2, as StartScenarios would refuse it', async () => {
  const { code, lines, stderr } = await runCli({ custom_data: 'x'.repeat(201) });
  assert.equal(code, 2);
  assert.equal(lines.length, 0);
  assert.match(stderr, /"custom_data" is 201 bytes; Voximplant keeps at most 200/);
});
