'use strict';
// Join ({"action":"join","to":{"channel","destination"},"by","name","secret"}): the scenario dials the requester,
// and on an answer within 30 s has the agent announce them, bridges callee and requester, and leaves the line.
const test = require('node:test');
const assert = require('node:assert/strict');
const {
  startCallbackServer, runSession, control, hangup, apiNames, checkEnvelope, SECRET, pullBot, makePullBrief,
  pullLaunchData,
} = require('../testkit/harness');

const HOLD = '+14155550177'; // the callee: answers and stays on the line
const REQUESTER = '+14155550123'; // answers at 1 s, hangs up 5 s later (the simulator's "answered")
const REQUESTER_RINGS_OUT = '+14155550140'; // rings the whole minute
const REQUESTER_BUSY = '+14155550186';
const CALLER_ID = '+14155559999'; // the brief's caller_id (harness makeBrief)

function join(accessUrl, to, extra = {}) {
  return control(accessUrl, { action: 'join', to, by: 'U0MARIA', name: 'Maria', secret: SECRET, ...extra });
}

async function withBot(fn) {
  const bot = await startCallbackServer();
  try {
    return await fn(bot);
  } finally {
    await bot.close();
  }
}

const talking = (events) => events.filter((e) => e.event === 'transcript').length >= 1;
const joinEvents = (bot) => bot.events.filter((e) => e.event === 'join');

test('join answered: the agent announces the requester, the two legs are bridged, the agent leaves the line', async () => {
  await withBot(async (bot) => {
    let answer;
    const { result, sim } = await runSession({
      customData: bot.customData({ destination: HOLD }),
      timeScale: 0.05,
      during: async (sim, accessUrl) => {
        await bot.waitFor(talking);
        answer = await join(accessUrl, { channel: 'pstn', destination: REQUESTER });
      },
    });
    assert.equal(result.exitCode, 0, result.reason);
    assert.deepEqual(answer.json, { ok: true });
    const names = checkEnvelope(assert, bot.events);
    // The requester's leg: callPSTN with the call's own caller ID.
    const dials = sim.apiCalls.filter((r) => r.api === 'callPSTN');
    assert.equal(dials.length, 2);
    assert.deepEqual(dials[1].args, [REQUESTER, CALLER_ID]);
    // The agent said who the callee is being connected to, before the bridge.
    const said = bot.events.filter((e) => e.event === 'transcript' && /connecting you now with Maria/.test(e.data.text));
    assert.equal(said.length, 1, 'the announcement was spoken');
    assert.deepEqual(joinEvents(bot).map((e) => e.data), [{ result: 'joined', by: 'U0MARIA' }]);
    assert.ok(said[0].seq < joinEvents(bot)[0].seq, 'announced, then joined');
    assert.deepEqual(sim.bridges, [[sim.calls[0].id, sim.calls[1].id]]);
    const api = apiNames(sim);
    assert.ok(api.indexOf('close') > api.indexOf('stopMediaBetween'), 'the agent is unplugged, then closed');
    assert.ok(api.lastIndexOf('sendMediaBetween') > api.indexOf('close'), 'the legs are bridged once it is gone');
    // Closing the agent on purpose is no AI failure; the requester hanging up (5 s later) ends the call.
    assert.ok(!names.includes('error'), `no error events: ${names}`);
    assert.ok(!bot.events.some((e) => e.event === 'transcript' && e.seq > joinEvents(bot)[0].seq), 'the agent is silent');
    assert.equal(names.at(-1), 'disconnected');
    assert.equal(bot.events.at(-1).data.reason, 'requester_hangup');
    assert.equal(sim.calls[0].state, 'ENDED');
    assert.equal(sim.calls[1].state, 'ENDED');
  });
});

test('join not answered within 30 s: the leg is hung up, no_answer is reported, the agent carries on', async () => {
  await withBot(async (bot) => {
    let answer;
    let second;
    let agentOpen;
    const { result, sim } = await runSession({
      customData: bot.customData({ destination: HOLD, max_duration_s: 600 }),
      timeScale: 0.01, // the 30 s wait takes 0.3 s
      timeoutMs: 15000,
      during: async (sim, accessUrl) => {
        await bot.waitFor(talking);
        answer = await join(accessUrl, { channel: 'pstn', destination: REQUESTER_RINGS_OUT });
        second = await join(accessUrl, { channel: 'pstn', destination: REQUESTER });
        await bot.waitFor((events) => events.some((e) => e.event === 'join'));
        // The agent is still on the line, its client open and bridged with the callee.
        agentOpen = !sim.openaiClients[0].closed && !apiNames(sim).includes('close');
        await hangup(accessUrl);
      },
    });
    assert.equal(result.exitCode, 0, result.reason);
    assert.deepEqual(answer.json, { ok: true });
    assert.deepEqual(second.json, { ok: false, error: 'already joining' }, 'one join at a time');
    checkEnvelope(assert, bot.events);
    assert.deepEqual(joinEvents(bot).map((e) => e.data), [
      { result: 'no_answer', by: 'U0MARIA', reason: 'no answer within 30 s' },
    ]);
    const leg = sim.calls[1];
    assert.equal(sim.calls.length, 2, 'the second press dialled nobody');
    assert.equal(leg.state, 'ENDED');
    const hungUpAt = sim.events.findIndex((e) => e.kind === 'api' && e.name === 'hangup');
    assert.ok(hungUpAt >= 0, 'the requester leg was hung up');
    assert.deepEqual(sim.bridges, []);
    assert.equal(agentOpen, true, 'the agent carried on');
    assert.equal(apiNames(sim).filter((n) => n === 'close').length, 1, 'the agent was closed only at the end');
    assert.equal(bot.events.at(-1).data.reason, 'hangup_requested');
  });
});

test('join to a busy requester fails with its code; a hang-up while joining reports the join failed first', async () => {
  await withBot(async (bot) => {
    const answers = [];
    const { result } = await runSession({
      customData: bot.customData({ destination: HOLD }),
      timeScale: 0.05,
      during: async (sim, accessUrl) => {
        await bot.waitFor(talking);
        answers.push(await join(accessUrl, { channel: 'pstn', destination: REQUESTER_BUSY }));
        await bot.waitFor((events) => events.some((e) => e.event === 'join'));
        answers.push(await join(accessUrl, { channel: 'app_user', destination: 'maria.app' }, { by: 'U0ADMIN' }));
        await hangup(accessUrl);
      },
    });
    assert.equal(result.exitCode, 0, result.reason);
    assert.deepEqual(answers.map((a) => a.json), [{ ok: true }, { ok: true }]);
    const joins = joinEvents(bot).map((e) => e.data);
    assert.deepEqual(joins, [
      { result: 'failed', by: 'U0MARIA', reason: 'Busy Here', code: 486 },
      { result: 'failed', by: 'U0ADMIN', reason: 'the call ended' },
    ]);
    const names = checkEnvelope(assert, bot.events);
    assert.equal(names.at(-1), 'disconnected');
    assert.ok(names.lastIndexOf('join') < names.length - 1, 'the join failed before the call ended');
  });
});

test('the time limit still ends a joined call: disconnected max_duration, both legs hung up', async () => {
  await withBot(async (bot) => {
    const { result, sim } = await runSession({
      customData: bot.customData({ destination: HOLD, max_duration_s: 6 }),
      timeScale: 0.05,
      during: async (sim, accessUrl) => {
        await bot.waitFor(talking);
        await join(accessUrl, { channel: 'app_user', destination: 'hold' }); // user "hold": answers, stays
      },
    });
    assert.equal(result.exitCode, 0, result.reason);
    assert.deepEqual(joinEvents(bot).map((e) => e.data.result), ['joined']);
    assert.deepEqual(sim.apiCalls.filter((r) => r.api === 'callUser')[0].args, [{ username: 'hold', callerid: CALLER_ID }]);
    const last = bot.events.at(-1);
    assert.equal(last.event, 'disconnected');
    assert.equal(last.data.reason, 'max_duration');
    assert.ok(last.data.duration_s >= 5, `duration ${last.data.duration_s} is the callee's`);
    assert.ok(sim.calls.every((c) => c.state === 'ENDED'), 'both legs are down');
  });
});

test('bad join requests are refused with a clear error and change nothing', async () => {
  await withBot(async (bot) => {
    const a = {};
    const { result, sim } = await runSession({
      customData: bot.customData({ destination: HOLD }),
      timeScale: 0.2,
      during: async (sim, accessUrl) => {
        await bot.waitFor((events) => events.some((e) => e.event === 'ringing'));
        a.notLive = await join(accessUrl, { channel: 'pstn', destination: REQUESTER });
        await bot.waitFor(talking);
        a.wrongSecret = await join(accessUrl, { channel: 'pstn', destination: REQUESTER }, { secret: `${SECRET}x` });
        a.noSecret = await control(accessUrl, { action: 'join', to: { channel: 'pstn', destination: REQUESTER } });
        a.noTo = await control(accessUrl, { action: 'join', secret: SECRET });
        a.badChannel = await join(accessUrl, { channel: 'sip', destination: 'sip:a@b.c' });
        a.notE164 = await join(accessUrl, { channel: 'pstn', destination: '415 555 0123' });
        a.badUser = await join(accessUrl, { channel: 'app_user', destination: 'maria app' });
        a.badBy = await join(accessUrl, { channel: 'pstn', destination: REQUESTER }, { by: '' });
        a.longName = await join(accessUrl, { channel: 'pstn', destination: REQUESTER }, { name: 'x'.repeat(81) });
        await hangup(accessUrl);
      },
    });
    assert.equal(result.exitCode, 0, result.reason);
    assert.match(a.notLive.json.error, /^the call is not connected/);
    for (const answer of [a.wrongSecret, a.noSecret]) {
      assert.deepEqual(answer.json, { ok: false, error: 'missing or wrong secret' });
      assert.ok(!answer.text.includes(SECRET));
    }
    assert.match(a.noTo.json.error, /^bad join: field 'to' is not a JSON object; expected \{"action":"join"/);
    assert.match(a.badChannel.json.error, /to\.channel must be "pstn" or "app_user"/);
    assert.match(a.notE164.json.error, /E\.164/);
    assert.match(a.badUser.json.error, /application user name/);
    assert.match(a.badBy.json.error, /^bad join: by must be/);
    assert.match(a.longName.json.error, /^bad join: name must be/);
    for (const answer of Object.values(a)) {
      assert.equal(answer.status, 200);
      assert.equal(answer.json.ok, false);
    }
    assert.equal(sim.calls.length, 1, 'nobody else was dialled');
    assert.equal(joinEvents(bot).length, 0);
    assert.equal(bot.events.at(-1).data.reason, 'hangup_requested');
  });
});

test('pull mode: join is a pull action too, and its event comes with the polls', async () => {
  let polled;
  let answer;
  const { result, sim } = await runSession({
    customData: pullLaunchData(),
    timeScale: 0.05,
    during: async (sim, accessUrl) => {
      const bot = pullBot(accessUrl, { brief: makePullBrief({ destination: HOLD }) });
      while (!(sim.openaiClients[0] && sim.openaiClients[0].talking)) await new Promise((r) => setTimeout(r, 5));
      answer = await join(accessUrl, { channel: 'pstn', destination: REQUESTER });
      polled = await bot;
    },
  });
  assert.equal(result.exitCode, 0, result.reason);
  assert.deepEqual(answer.json, { ok: true });
  assert.equal(polled.ended, 'done');
  const names = checkEnvelope(assert, polled.events);
  assert.deepEqual(polled.events.filter((e) => e.event === 'join').map((e) => e.data), [{ result: 'joined', by: 'U0MARIA' }]);
  assert.equal(names.at(-1), 'disconnected');
  assert.equal(polled.events.at(-1).data.reason, 'requester_hangup');
  assert.equal(sim.bridges.length, 1);
});
