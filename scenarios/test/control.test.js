'use strict';
// Control over the session's access URL ({"action":"hangup","secret":<the brief's control_secret>}), and the
// max_duration_s limit.
const test = require('node:test');
const assert = require('node:assert/strict');
const {
  startCallbackServer, runSession, control, hangup, apiNames, checkEnvelope, SECRET, launchData,
} = require('../testkit/harness');

const HOLD = '+14155550177'; // answered, stays up
const NO_ANSWER = '+14155550180'; // rings for 3 s, then 480

async function withBot(fn) {
  const bot = await startCallbackServer();
  try {
    return await fn(bot);
  } finally {
    await bot.close();
  }
}

test('hang-up before connect cancels the dialling call: disconnected, duration 0, hangup_requested', async () => {
  await withBot(async (bot) => {
    let answer;
    const { result, sim } = await runSession({
      customData: bot.customData({ destination: NO_ANSWER }),
      timeScale: 0.2, // 3 s of ringing = 600 ms: room to send the request while it rings
      during: async (sim, accessUrl) => {
        await bot.waitFor((events) => events.some((e) => e.event === 'ringing'));
        answer = await hangup(accessUrl);
      },
    });
    assert.equal(result.exitCode, 0, result.reason);
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.json, { ok: true });
    assert.deepEqual(checkEnvelope(assert, bot.events), ['started', 'dialing', 'ringing', 'disconnected']);
    assert.deepEqual(bot.events.at(-1).data, { duration_s: 0, reason: 'hangup_requested' });
    assert.ok(apiNames(sim).includes('hangup'));
    assert.ok(!apiNames(sim).includes('createRealtimeAPIClient'));
  });
});

test('hang-up after connect ends the call: disconnected, real duration, hangup_requested', async () => {
  await withBot(async (bot) => {
    let answer;
    const { result } = await runSession({
      customData: bot.customData({ destination: HOLD }),
      timeScale: 0.05,
      during: async (sim, accessUrl) => {
        // Two transcript lines in: at least 1.3 s of conversation.
        await bot.waitFor((events) => events.filter((e) => e.event === 'transcript').length >= 2);
        answer = await hangup(accessUrl);
      },
    });
    assert.equal(result.exitCode, 0, result.reason);
    assert.deepEqual(answer.json, { ok: true });
    const names = checkEnvelope(assert, bot.events);
    assert.equal(names.at(-1), 'disconnected');
    const last = bot.events.at(-1).data;
    assert.equal(last.reason, 'hangup_requested');
    assert.ok(last.duration_s >= 1, `duration ${last.duration_s} counts the conversation`);
    assert.equal(typeof last.cost, 'number');
  });
});

test('bad control requests get a clear JSON error and the call goes on', async () => {
  await withBot(async (bot) => {
    const answers = {};
    let apiCountBefore;
    let apiCountAfter;
    const { result, sim } = await runSession({
      customData: bot.customData({ destination: HOLD }),
      timeScale: 0.05,
      during: async (sim, accessUrl) => {
        await bot.waitFor((events) => events.some((e) => e.event === 'connected'));
        apiCountBefore = sim.apiCalls.filter((r) => r.api === 'hangup').length;
        answers.notJson = await control(accessUrl, 'hang up please');
        answers.unknown = await control(accessUrl, { action: 'x', secret: SECRET });
        answers.noAction = await control(accessUrl, { hangup: true, secret: SECRET });
        answers.array = await control(accessUrl, ['hangup']);
        answers.get = await control(accessUrl, undefined, 'GET');
        answers.noSecret = await control(accessUrl, { action: 'hangup' });
        answers.wrongSecret = await control(accessUrl, { action: 'hangup', secret: `${SECRET}x` });
        answers.numberSecret = await control(accessUrl, { action: 'hangup', secret: 12 });
        apiCountAfter = sim.apiCalls.filter((r) => r.api === 'hangup').length;
        const eventsBefore = bot.events.length;
        // The call is still up: more of the conversation arrives.
        await bot.waitFor((events) => events.length > eventsBefore && events.at(-1).event === 'transcript');
        answers.hangup = await hangup(accessUrl);
      },
    });
    assert.equal(result.exitCode, 0, result.reason);
    const hint = 'expected {"action":"hangup","secret":"<control secret>"} or {"action":"say","text":"...","secret":"<control secret>"}';
    assert.deepEqual(answers.unknown.json, { ok: false, error: `unknown action 'x'; ${hint}` });
    assert.deepEqual(answers.noAction.json, { ok: false, error: `unknown action (none); ${hint}` });
    assert.equal(answers.notJson.json.ok, false);
    assert.match(answers.notJson.json.error, /not valid JSON.*\{"action":"hangup","secret":"<control secret>"\} or \{"action":"say"/);
    assert.equal(answers.array.json.ok, false);
    assert.match(answers.array.json.error, /not a JSON object/);
    assert.equal(answers.get.json.ok, false);
    assert.match(answers.get.json.error, /method GET not allowed/);
    for (const a of [answers.noSecret, answers.wrongSecret, answers.numberSecret]) {
      assert.deepEqual(a.json, { ok: false, error: 'missing or wrong secret' });
      assert.ok(!a.text.includes(SECRET), 'the secret is never echoed');
    }
    for (const a of Object.values(answers).filter((x) => x !== answers.hangup)) {
      assert.equal(a.status, 200);
    }
    assert.equal(apiCountAfter, apiCountBefore, 'no bad request hung up');
    assert.deepEqual(answers.hangup.json, { ok: true });
    assert.equal(bot.events.at(-1).data.reason, 'hangup_requested');
    assert.equal(sim.apiCalls.filter((r) => r.api === 'hangup').length, 1);
  });
});

test('a second hang-up request while the call is ending is answered ok and changes nothing', async () => {
  await withBot(async (bot) => {
    const answers = [];
    const { result, sim } = await runSession({
      customData: bot.customData({ destination: HOLD }),
      timeScale: 0.05,
      during: async (sim, accessUrl) => {
        await bot.waitFor((events) => events.some((e) => e.event === 'connected'));
        answers.push(await hangup(accessUrl));
        answers.push(await hangup(accessUrl));
      },
    });
    assert.equal(result.exitCode, 0, result.reason);
    assert.deepEqual(answers[0].json, { ok: true });
    assert.deepEqual(answers[1].json, { ok: true, note: 'the call is already ending' });
    assert.equal(sim.apiCalls.filter((r) => r.api === 'hangup').length, 1);
    assert.equal(bot.events.filter((e) => e.event === 'disconnected').length, 1);
  });
});

test('max_duration_s, counted from the answer, hangs up a call that runs too long: disconnected, max_duration', async () => {
  await withBot(async (bot) => {
    const { result, sim } = await runSession({
      customData: bot.customData({ destination: HOLD, max_duration_s: 3 }),
      timeScale: 0.05,
    });
    assert.equal(result.exitCode, 0, result.reason);
    const last = bot.events.at(-1);
    assert.equal(last.event, 'disconnected');
    assert.equal(last.data.reason, 'max_duration');
    assert.ok(Math.abs(last.data.duration_s - 3) <= 1, `duration ${last.data.duration_s} is about 3 s`);
    const connectedAt = sim.events.find((e) => e.name === 'Call.Connected').t;
    const hangupAt = sim.events.find((e) => e.kind === 'api' && e.name === 'hangup').t;
    // Counted from the dial it would come 1000 ms (the time to answer) earlier.
    assert.ok(Math.abs(hangupAt - connectedAt - 3000) < 500, `hang-up ${hangupAt - connectedAt} ms after connect`);
  });
});

test('a hang-up before the brief arrived is refused like a wrong secret, and the call still goes ahead', async () => {
  let release;
  const held = new Promise((resolve) => {
    release = resolve;
  });
  const bot = await startCallbackServer({ respondBrief: () => undefined });
  // The brief is answered only once the test has tried to hang up.
  const original = bot.server.listeners('request')[0];
  bot.server.removeAllListeners('request');
  bot.server.on('request', async (req, res) => {
    if (req.url === '/voximplant/brief') await held;
    original(req, res);
  });
  try {
    let answers;
    const { result, sim } = await runSession({
      customData: bot.customData({ destination: '+14155550186' }),
      during: async (s, accessUrl) => {
        answers = [await hangup(accessUrl), await hangup(accessUrl, 'guess')];
        release();
      },
    });
    assert.equal(result.exitCode, 0, result.reason);
    for (const a of answers) assert.deepEqual(a.json, { ok: false, error: 'missing or wrong secret' });
    assert.ok(apiNames(sim).includes('callPSTN'), 'the call went ahead');
    assert.ok(!apiNames(sim).includes('hangup'));
    assert.equal(bot.events.at(-1).event, 'failed');
  } finally {
    await bot.close();
  }
});

test('a session whose brief never came refuses every control request', async () => {
  let answer;
  const { result } = await runSession({
    customData: launchData({ u: 'http://127.0.0.1:9/brief' }),
    timeScale: 0.01,
    during: async (s, accessUrl) => {
      answer = await hangup(accessUrl);
    },
  });
  assert.equal(result.exitCode, 0, result.reason);
  assert.deepEqual(answer.json, { ok: false, error: 'missing or wrong secret' });
});
