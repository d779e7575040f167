'use strict';
// Launch contract v2: custom data is {"v":2,"id","u","t"}; the scenario fetches the brief (GET u, Bearer t), retries
// what may pass (network failures, 408, 429, 5xx) for a bounded time, takes any other 4xx as final, validates the
// brief, and refuses old-contract custom data. Where there is nowhere to report, it only logs; it never dials.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const {
  SCENARIO, startCallbackServer, unreachableUrl, launchData, customDataV1, runSession, apiNames, TOKEN, BRIEF_TOKEN,
  SECRET, CALL_ID, MAX_CUSTOM_DATA_BYTES,
} = require('../testkit/harness');

const DIALS = ['callPSTN', 'callSIP', 'callUser', 'callWhatsappUser'];

async function withBot(options, fn) {
  const bot = await startCallbackServer(options);
  try {
    return await fn(bot);
  } finally {
    await bot.close();
  }
}

function assertNoSecretsLogged(sim) {
  const logs = sim.logs.join('\n');
  for (const secret of [TOKEN, BRIEF_TOKEN, SECRET]) assert.ok(!logs.includes(secret), `${secret} is not logged`);
}

function assertNeverDialled(sim) {
  assert.ok(!apiNames(sim).some((name) => DIALS.includes(name)), 'never dials');
  assert.equal(apiNames(sim).at(-1), 'terminate');
}

test('the brief is fetched with GET, the brief token as bearer, Accept JSON, a 10 s timeout; then the call runs', async () => {
  await withBot({}, async (bot) => {
    const data = bot.customData();
    assert.ok(Buffer.byteLength(data) <= MAX_CUSTOM_DATA_BYTES, `${Buffer.byteLength(data)} bytes`);
    const { result, sim } = await runSession({ customData: data });
    assert.equal(result.exitCode, 0, result.reason);
    assert.equal(bot.briefRequests.length, 1);
    const request = bot.briefRequests[0];
    assert.equal(request.method, 'GET');
    assert.equal(request.headers.authorization, `Bearer ${BRIEF_TOKEN}`);
    assert.equal(request.headers.accept, 'application/json');
    const record = sim.apiCalls.find((r) => r.api === 'httpRequestAsync');
    assert.equal(record.args[0], bot.briefUrl);
    assert.equal(record.args[1].timeout, 10);
    assert.equal(record.args[1].headers.Authorization, '***', 'the API record never shows the token');
    assert.ok(apiNames(sim).indexOf('callPSTN') > apiNames(sim).indexOf('httpRequestAsync'), 'dials after the brief');
    assert.equal(bot.events[0].event, 'started');
    assert.equal(bot.events.at(-1).event, 'disconnected');
    assertNoSecretsLogged(sim);
  });
});

test('network failures, 408, 429 and 5xx are retried with backoff; then the brief is used', async () => {
  const answers = [503, 429, 408, 500];
  await withBot({ respondBrief: (request, index) => (index < answers.length ? answers[index] : undefined) }, async (bot) => {
    const { result, sim } = await runSession({ customData: bot.customData(), timeScale: 0.02 });
    assert.equal(result.exitCode, 0, result.reason);
    assert.equal(bot.briefRequests.length, 5);
    const gaps = bot.briefRequests.slice(1).map((r, i) => (r.at - bot.briefRequests[i].at) / 0.02);
    [500, 1000, 2000, 4000].forEach((expected, i) => {
      assert.ok(gaps[i] >= expected * 0.9 && gaps[i] < expected + 1500, `gap ${i + 1} ${Math.round(gaps[i])} ms, expected ${expected}`);
    });
    assert.ok(apiNames(sim).includes('callPSTN'));
    assert.equal(bot.events[0].event, 'started');
  });
});

for (const status of [401, 404, 410]) {
  test(`a ${status} for the brief is final: one try, a clear log line without the token, no dial, terminate`, async () => {
    await withBot({ respondBrief: () => status }, async (bot) => {
      const { result, sim } = await runSession({ customData: bot.customData() });
      assert.equal(result.exitCode, 0, result.reason);
      assert.equal(bot.briefRequests.length, 1, 'not retried');
      assert.equal(bot.requests.length, 0, 'nowhere to report: no status event');
      assert.match(sim.logs.join('\n'), new RegExp(`call ${CALL_ID}: the bot refused the brief at \\S+ with HTTP ${status} \\(final\\); nothing dialled`));
      assertNeverDialled(sim);
      assertNoSecretsLogged(sim);
    });
  });
}

test('a brief that never comes (connection refused): tries for at most 30 s, then logs and terminates', async () => {
  const url = await unreachableUrl();
  const scale = 0.01;
  const started = performance.now();
  const { result, sim } = await runSession({ customData: launchData({ u: url }), timeScale: scale });
  const simulatedMs = (performance.now() - started) / scale;
  assert.equal(result.exitCode, 0, result.reason);
  const tries = sim.apiCalls.filter((r) => r.api === 'httpRequestAsync').length;
  assert.ok(tries >= 6, `${tries} tries`);
  assert.ok(simulatedMs >= 29000 && simulatedMs < 40000, `gave up after ${Math.round(simulatedMs)} simulated ms`);
  assert.match(sim.logs.join('\n'), /no brief from \S+ within 30 s \(\d+ tries, last code -4\); nothing dialled/);
  assertNeverDialled(sim);
  assertNoSecretsLogged(sim);
});

test('a brief that is not JSON: nowhere to report; logged without its text, no dial', async () => {
  await withBot({ respondBrief: () => ({ status: 200, body: `{"callback_token": "${TOKEN}", ` }) }, async (bot) => {
    const { result, sim } = await runSession({ customData: bot.customData() });
    assert.equal(result.exitCode, 0, result.reason);
    assert.equal(bot.requests.length, 0);
    assert.match(sim.logs.join('\n'), /the brief is not a JSON object; nothing dialled/);
    assertNeverDialled(sim);
    assertNoSecretsLogged(sim);
  });
});

const BAD_BRIEFS = [
  {
    title: 'missing fields',
    brief: { destination: undefined, instructions: undefined },
    message: /field 'destination' is missing.*field 'instructions' is missing/,
  },
  { title: 'wrong brief version', brief: { v: 1 }, message: /field 'v' is 1 \(expected 2\)/ },
  {
    title: 'a call id that is not the one in custom data',
    brief: {},
    launch: { id: 'call-other' },
    message: /call_id 'call-0001' is not the call id in custom data \('call-other'\)/,
  },
  { title: 'no control secret', brief: { control_secret: undefined }, message: /field 'control_secret' is missing/ },
  { title: 'an empty control secret', brief: { control_secret: '' }, message: /field 'control_secret' is missing/ },
  { title: 'unknown channel', brief: { channel: 'fax' }, message: /channel 'fax' is not one of pstn, sip, user, whatsapp/ },
  {
    title: 'a pstn destination that is not E.164',
    brief: { destination: '4155550100' },
    message: /destination for channel 'pstn' must be an E\.164 number/,
  },
  {
    title: 'a sip destination that is not a SIP URI',
    brief: { channel: 'sip', destination: 'alice' },
    message: /destination for channel 'sip' must be a SIP URI/,
  },
  {
    title: 'max_duration_s that is not a positive integer',
    brief: { max_duration_s: '60' },
    message: /'max_duration_s' must be a positive integer/,
  },
  { title: 'a caller ID with spaces', brief: { caller_id: '+1 415 555 9999' }, message: /caller_id must not contain whitespace/ },
];

for (const c of BAD_BRIEFS) {
  test(`a bad brief (${c.title}) reports error then failed code 0, never dials, terminates`, async () => {
    await withBot({}, async (bot) => {
      const { result, sim } = await runSession({ customData: bot.customData(c.brief, c.launch) });
      assert.equal(result.exitCode, 0, result.reason);
      assert.deepEqual(bot.events.map((e) => [e.seq, e.event]), [[1, 'error'], [2, 'failed']]);
      const [event, failed] = bot.events;
      assert.equal(event.call_id, CALL_ID);
      assert.match(event.data.message, /^bad brief: /);
      assert.match(event.data.message, c.message);
      assert.ok(!event.data.message.includes(TOKEN) && !event.data.message.includes(SECRET), 'no secret echoed');
      assert.deepEqual(failed.data, { code: 0, reason: event.data.message });
      assert.equal(bot.requests[0].headers.authorization, `Bearer ${TOKEN}`);
      assertNeverDialled(sim);
      assertNoSecretsLogged(sim);
    });
  });
}

test('a bad brief without a usable callback: nothing to report to, only logged, never dials', async () => {
  await withBot({}, async (bot) => {
    const { result, sim } = await runSession({ customData: bot.customData({ callback_token: '', destination: undefined }) });
    assert.equal(result.exitCode, 0, result.reason);
    assert.equal(bot.requests.length, 0);
    assert.match(sim.logs.join('\n'), /bad brief: field 'destination' is missing/);
    assertNeverDialled(sim);
  });
});

test('v1 custom data with a usable callback is refused: error naming both versions, failed code 0, no brief, no dial', async () => {
  await withBot({}, async (bot) => {
    const { result, sim } = await runSession({ customData: customDataV1({ callback_url: bot.url }) });
    assert.equal(result.exitCode, 0, result.reason);
    assert.deepEqual(bot.events.map((e) => e.event), ['error', 'failed']);
    const message = 'custom data speaks launch contract v1; this scenario speaks v2: upgrade the bot / run `callbot setup`';
    assert.equal(bot.events[0].data.message, message);
    assert.deepEqual(bot.events[1].data, { code: 0, reason: message });
    assert.equal(bot.events[0].call_id, CALL_ID);
    assert.equal(bot.events[0].v, 1, 'status events are still v1');
    assert.equal(bot.requests[0].headers.authorization, `Bearer ${TOKEN}`);
    assert.equal(bot.briefRequests.length, 0);
    assertNeverDialled(sim);
    assertNoSecretsLogged(sim);
  });
});

test('v1 custom data without a usable callback is refused in the log only', async () => {
  await withBot({}, async (bot) => {
    const { result, sim } = await runSession({ customData: customDataV1({ callback_url: 'not a url' }) });
    assert.equal(result.exitCode, 0, result.reason);
    assert.equal(bot.requests.length, 0);
    assert.match(sim.logs.join('\n'), /custom data speaks launch contract v1; this scenario speaks v2/);
    assert.deepEqual(apiNames(sim), ['customData', 'terminate']);
  });
});

test('custom data without a version, or with another one, names both sides too', async () => {
  for (const [data, words] of [
    [launchData({ v: undefined }), /custom data names no launch contract version; this scenario speaks v2: upgrade the bot/],
    [launchData({ v: 3 }), /custom data speaks launch contract v3; this scenario speaks v2: upgrade the bot/],
  ]) {
    const { result, sim } = await runSession({ customData: data });
    assert.equal(result.exitCode, 0, result.reason);
    assert.match(sim.logs.join('\n'), words);
    assert.deepEqual(apiNames(sim), ['customData', 'terminate']);
  }
});

test('v2 custom data with a bad field: logged (never the token), no request, no dial', async () => {
  const { result, sim } = await runSession({ customData: launchData({ u: 'ftp://example.org/brief', t: undefined }) });
  assert.equal(result.exitCode, 0, result.reason);
  assert.match(sim.logs.join('\n'), /bad custom data: field 'u' is not an http\(s\) URL; field 't' is missing/);
  assert.deepEqual(apiNames(sim), ['customData', 'terminate']);
});

test('custom data that is not JSON: logged without its text, never dials, terminates', async () => {
  const { result, sim } = await runSession({ customData: `{"v":2, "t": "${BRIEF_TOKEN}", ` });
  assert.equal(result.exitCode, 0, result.reason);
  assert.match(sim.logs.join('\n'), /custom data is not a JSON object; expected launch contract v2/);
  assert.deepEqual(apiNames(sim), ['customData', 'terminate']);
  assertNoSecretsLogged(sim);
});

test('empty custom data: never dials, terminates', async () => {
  const { result, sim } = await runSession({ customData: '' });
  assert.equal(result.exitCode, 0, result.reason);
  assert.deepEqual(apiNames(sim), ['customData', 'terminate']);
  assert.match(sim.logs.join('\n'), /custom data is empty/);
});

test('a dial VoxEngine refuses: started, error, then failed with code 0, and terminates', async () => {
  // The scenario as uploaded, except that it dials with an empty number, which VoxEngine.callPSTN throws on.
  const source = fs.readFileSync(SCENARIO, 'utf8').replace(
    'VoxEngine.callPSTN(c.destination, c.caller_id, { amd: amd })', 'VoxEngine.callPSTN("", c.caller_id, { amd: amd })');
  assert.ok(source.includes('VoxEngine.callPSTN("", c.caller_id, { amd: amd })'), 'the dial line was found');
  await withBot({}, async (bot) => {
    const { result } = await runSession({ customData: bot.customData(), scenarioSource: source });
    assert.equal(result.exitCode, 0, result.reason);
    assert.deepEqual(bot.events.map((e) => e.event), ['started', 'error', 'failed']);
    const [, error, failed] = bot.events;
    assert.match(error.data.message, /^scenario error: VoxEngine\.callPSTN: number must be a non-empty string/);
    assert.deepEqual(failed.data, { code: 0, reason: error.data.message });
  });
});
