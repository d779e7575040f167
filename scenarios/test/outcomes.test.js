'use strict';
// Every scripted outcome of the simulator gives the right status event sequence, seq 1..n, and a final terminate.
const test = require('node:test');
const assert = require('node:assert/strict');
const { startCallbackServer, runSession, apiNames, checkEnvelope } = require('../testkit/harness');
const { OUTCOMES, outcomeFor } = require('../simulator/outcomes');

const FAILURES = [
  { name: 'busy', number: '+14155550186', code: 486, reason: 'Busy Here', ringing: true },
  { name: 'noanswer', number: '+14155550180', code: 480, reason: 'Temporarily Unavailable', ringing: true },
  { name: 'timeout', number: '+14155550187', code: 487, reason: 'Request Terminated', ringing: true },
  { name: 'rejected', number: '+14155550160', code: 603, reason: 'Decline', ringing: true },
  { name: 'unreachable', number: '+14155550199', code: 503, reason: 'Service Unavailable', ringing: false },
  { name: 'invalid', number: '+14155550144', code: 404, reason: 'Not Found', ringing: false },
  { name: 'nofunds', number: '+14155550142', code: 402, reason: 'Payment Required', ringing: false },
  { name: 'unanswered', number: '+14155550148', code: 408, reason: 'Request Timeout', ringing: true },
];

const DIAL = { pstn: 'callPSTN', whatsapp: 'callWhatsappUser', sip: 'callSIP', user: 'callUser' };

/** Where each failure is reached on every channel: numbers for pstn and whatsapp, the user part for sip and user. */
function destinations(f) {
  return [['pstn', f.number], ['whatsapp', f.number], ['sip', `sip:${f.name}@pbx.example.org`], ['user', f.name]];
}

async function session(overrides, options = {}) {
  const bot = await startCallbackServer();
  try {
    const { result, sim } = await runSession({ customData: bot.customData({ ...overrides }), ...options });
    return { result, sim, events: bot.events, names: checkEnvelope(assert, bot.events) };
  } finally {
    await bot.close();
  }
}

test('outcomeFor picks by the last 4 digits (pstn, whatsapp) and by the user part (sip, user)', () => {
  assert.equal(outcomeFor('pstn', '+14155550186'), 'busy');
  assert.equal(outcomeFor('whatsapp', '+447700900199'), 'unreachable');
  assert.equal(outcomeFor('pstn', '+14155550100'), 'answered');
  assert.equal(outcomeFor('sip', 'sip:noanswer@pbx.example.org'), 'noanswer');
  assert.equal(outcomeFor('sip', 'sips:HOLD@pbx.example.org'), 'hold');
  assert.equal(outcomeFor('user', 'rejected'), 'rejected');
  assert.equal(outcomeFor('whatsapp', '+447700900144'), 'invalid');
  assert.equal(outcomeFor('user', 'alice'), 'answered');
});

for (const f of FAILURES) {
  for (const [channel, destination] of destinations(f)) {
    test(`${f.name} (${channel} ${destination}) reports failed ${f.code} "${f.reason}" and terminates`, async () => {
      const { result, sim, events, names } = await session({ channel, destination });
      assert.equal(result.exitCode, 0, result.reason);
      const expected = f.ringing ? ['started', 'dialing', 'ringing', 'failed'] : ['started', 'dialing', 'failed'];
      assert.deepEqual(names, expected);
      assert.deepEqual(events.at(-1).data, { code: f.code, reason: f.reason });
      assert.equal(typeof events.at(-1).data.code, 'number');
      assert.ok(apiNames(sim).includes(DIAL[channel]), `dialled with ${DIAL[channel]}`);
      assert.ok(!apiNames(sim).includes('createRealtimeAPIClient'), 'no AI client for a call that never connected');
      assert.equal(apiNames(sim).at(-1), 'terminate');
    });
  }
}

test('answered (default): ringing, connected, transcripts, then the callee hangs up after 5 s', async () => {
  const { result, sim, events, names } = await session({ destination: '+14155550100' });
  assert.equal(result.exitCode, 0, result.reason);
  assert.deepEqual(names, [
    'started', 'dialing', 'ringing', 'connected', 'answered', 'transcript', 'transcript', 'transcript', 'transcript', 'disconnected',
  ]);
  const last = events.at(-1).data;
  assert.equal(last.reason, 'remote_hangup');
  assert.equal(last.duration_s, 5);
  assert.equal(typeof last.cost, 'number');
  assert.ok(last.cost > 0);
  assert.equal(apiNames(sim).at(-1), 'terminate');
  assert.ok(!apiNames(sim).includes('hangup'), 'the callee hung up; the scenario did not');
});

test('hold: answered and stays connected until max duration ends it', async () => {
  const { result, events, names } = await session({ destination: '+14155550177', max_duration_s: 8 });
  assert.equal(result.exitCode, 0, result.reason);
  assert.deepEqual(names.slice(0, 4), ['started', 'dialing', 'ringing', 'connected']);
  assert.equal(names.at(-1), 'disconnected');
  assert.equal(events.at(-1).data.reason, 'max_duration', 'nothing but max duration ended a held call');
  assert.ok(Math.abs(events.at(-1).data.duration_s - 8) <= 1, `duration ${events.at(-1).data.duration_s} is about 8 s`);
});

test('aierror: answered, then the AI connection fails: error, disconnected ai_error', async () => {
  const { result, sim, events, names } = await session({ channel: 'user', destination: 'aierror' });
  assert.equal(result.exitCode, 0, result.reason);
  assert.deepEqual(names, ['started', 'dialing', 'ringing', 'connected', 'error', 'disconnected']);
  assert.match(events[4].data.message, /Simulated Realtime API failure/);
  assert.equal(events[4].data.recoverable, undefined);
  assert.equal(events[5].data.reason, 'ai_error');
  assert.ok(apiNames(sim).includes('hangup'), 'the scenario hung up');
});

test('aiglitch: a good call with two recoverable AI errors in the middle, ended by the callee', async () => {
  const { result, events, names } = await session({ channel: 'sip', destination: 'sip:aiglitch@pbx.example.org' });
  assert.equal(result.exitCode, 0, result.reason);
  assert.deepEqual(names, [
    'started', 'dialing', 'ringing', 'connected', 'transcript', 'error', 'transcript', 'error', 'transcript', 'transcript',
    'disconnected',
  ]);
  assert.ok(events.filter((e) => e.event === 'error').every((e) => e.data.recoverable === true));
  assert.equal(events.at(-1).data.reason, 'remote_hangup');
});

test('every Failed code Voximplant documents has an outcome (402, 404, 408, 480, 486, 487, 603)', () => {
  const codes = new Set(Object.values(OUTCOMES).map((o) => o.code));
  for (const code of [402, 404, 408, 480, 486, 487, 603]) assert.ok(codes.has(code), `an outcome gives ${code}`);
  const digits = Object.values(OUTCOMES).map((o) => o.digits).filter(Boolean);
  assert.equal(new Set(digits).size, digits.length, 'no two outcomes share digits');
});
