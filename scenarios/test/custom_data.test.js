'use strict';
// Bad custom data: report one `error` event saying what is wrong (when the callback is usable), never dial,
// terminate.
const test = require('node:test');
const assert = require('node:assert/strict');
const { startCallbackServer, customData, runSession, apiNames, TOKEN } = require('../testkit/harness');

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
  test(`bad custom data (${c.title}) reports error, never dials, terminates`, async () => {
    const { result, sim, bot } = await badSession(c.data);
    assert.equal(result.exitCode, 0, result.reason);
    assert.equal(bot.events.length, 1, 'exactly one event');
    const [event] = bot.events;
    assert.equal(event.event, 'error');
    assert.equal(event.seq, 1);
    assert.match(event.data.message, /^bad custom data: /);
    assert.match(event.data.message, c.message);
    assert.ok(!event.data.message.includes(TOKEN), 'the message does not echo the token');
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
