'use strict';
// Bad custom data: report an `error` event saying what is wrong and a `failed` with code 0 (when the callback is
// usable), never dial, terminate.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const { SCENARIO, startCallbackServer, customData, runSession, apiNames, TOKEN } = require('../testkit/harness');

const DIALS = ['callPSTN', 'callSIP', 'callUser', 'callWhatsappUser'];

async function badSession(rawCustomData) {
  const bot = await startCallbackServer();
  try {
    const { result, sim } = await runSession({ customData: rawCustomData(bot.url) });
    return { result, sim, bot };
  } finally {
    await bot.close();
  }
}

const CASES = [
  {
    title: 'missing fields',
    data: (url) => customData({ callback_url: url, destination: undefined, instructions: undefined }),
    message: /field 'destination' is missing.*field 'instructions' is missing/,
  },
  {
    title: 'wrong contract version',
    data: (url) => customData({ callback_url: url, v: 2 }),
    message: /unsupported contract version 2 \(expected 1\)/,
  },
  {
    title: 'no version at all',
    data: (url) => customData({ callback_url: url, v: undefined }),
    message: /field 'v' is missing \(expected contract version 1\)/,
  },
  {
    title: 'unknown channel',
    data: (url) => customData({ callback_url: url, channel: 'fax' }),
    message: /channel 'fax' is not one of pstn, sip, user, whatsapp/,
  },
  {
    title: 'a pstn destination that is not E.164',
    data: (url) => customData({ callback_url: url, destination: '4155550100' }),
    message: /destination for channel 'pstn' must be an E\.164 number/,
  },
  {
    title: 'a sip destination that is not a SIP URI',
    data: (url) => customData({ callback_url: url, channel: 'sip', destination: 'alice' }),
    message: /destination for channel 'sip' must be a SIP URI/,
  },
  {
    title: 'max_duration_s that is not a positive integer',
    data: (url) => customData({ callback_url: url, max_duration_s: '60' }),
    message: /'max_duration_s' must be a positive integer/,
  },
  {
    title: 'a caller ID with spaces',
    data: (url) => customData({ callback_url: url, caller_id: '+1 415 555 9999' }),
    message: /caller_id must not contain whitespace/,
  },
];

for (const c of CASES) {
  test(`bad custom data (${c.title}) reports error then failed, never dials, terminates`, async () => {
    const { result, sim, bot } = await badSession(c.data);
    assert.equal(result.exitCode, 0, result.reason);
    assert.deepEqual(bot.events.map((e) => [e.seq, e.event]), [[1, 'error'], [2, 'failed']]);
    const [event, failed] = bot.events;
    assert.match(event.data.message, /^bad custom data: /);
    assert.match(event.data.message, c.message);
    assert.ok(!event.data.message.includes(TOKEN), 'the message does not echo the token');
    // The terminal event the bot waits for: no call was placed (code 0), and why.
    assert.deepEqual(failed.data, { code: 0, reason: event.data.message });
    assert.equal(bot.requests[0].headers.authorization, `Bearer ${TOKEN}`);
    assert.ok(!apiNames(sim).some((name) => DIALS.includes(name)), 'never dials');
    assert.equal(apiNames(sim).at(-1), 'terminate');
  });
}

test('custom data that is not JSON: nothing to report to, never dials, terminates', async () => {
  const { result, sim, bot } = await badSession(() => '{"v":1, "call_id": "call-0001", ');
  assert.equal(result.exitCode, 0, result.reason);
  assert.equal(bot.requests.length, 0);
  assert.ok(!apiNames(sim).includes('httpRequestAsync'));
  assert.ok(!apiNames(sim).some((name) => DIALS.includes(name)));
  assert.match(sim.logs.join('\n'), /bad custom data: custom data is not valid JSON/);
  assert.equal(apiNames(sim).at(-1), 'terminate');
});

test('bad custom data without a usable callback token: no request, never dials, terminates', async () => {
  const { result, sim, bot } = await badSession((url) => customData({ callback_url: url, callback_token: '', destination: undefined }));
  assert.equal(result.exitCode, 0, result.reason);
  assert.equal(bot.requests.length, 0);
  assert.ok(!apiNames(sim).some((name) => DIALS.includes(name)));
  assert.deepEqual(apiNames(sim), ['customData', 'terminate']);
});

test('empty custom data: never dials, terminates', async () => {
  const { result, sim } = await badSession(() => '');
  assert.equal(result.exitCode, 0, result.reason);
  assert.deepEqual(apiNames(sim), ['customData', 'terminate']);
  assert.match(sim.logs.join('\n'), /custom data is empty/);
});

test('a dial VoxEngine refuses: started, error, then failed with code 0, and terminates', async () => {
  // The scenario as uploaded, except that it dials with an empty number, which VoxEngine.callPSTN throws on.
  const source = fs.readFileSync(SCENARIO, 'utf8').replace(
    'VoxEngine.callPSTN(c.destination, c.caller_id)', 'VoxEngine.callPSTN("", c.caller_id)');
  assert.ok(source.includes('VoxEngine.callPSTN("", c.caller_id)'), 'the dial line was found');
  const bot = await startCallbackServer();
  try {
    const { result } = await runSession({ customData: customData({ callback_url: bot.url }), scenarioSource: source });
    assert.equal(result.exitCode, 0, result.reason);
    assert.deepEqual(bot.events.map((e) => e.event), ['started', 'error', 'failed']);
    const [, error, failed] = bot.events;
    assert.match(error.data.message, /^scenario error: VoxEngine\.callPSTN: number must be a non-empty string/);
    assert.deepEqual(failed.data, { code: 0, reason: error.data.message });
  } finally {
    await bot.close();
  }
});
