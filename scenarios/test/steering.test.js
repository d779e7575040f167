'use strict';
// Steering a live call: {"action":"say","text"} over the access URL reaches the agent as a system message and a
// response at the next pause; the agent's press_keys tool presses keys (Call.sendDigits) and reports `keys`.
const test = require('node:test');
const assert = require('node:assert/strict');
const {
  startCallbackServer, runSession, control, hangup, apiNames, checkEnvelope, SECRET, pullLaunchData, makePullBrief,
  pullBot,
} = require('../testkit/harness');
const { OPENAI_REALTIME_EVENTS } = require('../simulator/names');

const HOLD = '+14155550177'; // answered, the agent talks for 3.3 s, then the line stays up
const NO_ANSWER = '+14155550180'; // rings for 3 s, then 480
const VOICEMAIL = '+14155550150'; // a voicemail box
const MENU = '+14155550130'; // a phone menu: the model presses 1
const WRONG = { ok: false, error: 'missing or wrong secret' };

function say(accessUrl, text, secret = SECRET) {
  return control(accessUrl, { action: 'say', text, secret });
}

async function withBot(fn) {
  const bot = await startCallbackServer();
  try {
    return await fn(bot);
  } finally {
    await bot.close();
  }
}

/** Waits until the scripted conversation is over (four transcript lines): nobody speaks, no response is under way. */
const conversationOver = (events) => events.filter((e) => e.event === 'transcript').length >= 4;

test('say: the text reaches the agent as a system message, a response is asked for, and the agent speaks it', async () => {
  await withBot(async (bot) => {
    let answer;
    const { result, sim } = await runSession({
      customData: bot.customData({ destination: HOLD }),
      timeScale: 0.05,
      during: async (s, accessUrl) => {
        await bot.waitFor(conversationOver);
        answer = await say(accessUrl, '  Tell them the meeting moved to 4 pm.  ');
        await bot.waitFor((events) => events.filter((e) => e.event === 'transcript').length >= 5);
        await hangup(accessUrl);
      },
    });
    assert.equal(result.exitCode, 0, result.reason);
    assert.deepEqual(answer.json, { ok: true });
    const client = sim.openaiClients[0];
    assert.equal(client.said.length, 1);
    assert.match(client.said[0], /^The person who asked for this call wants the callee told the following\./);
    assert.ok(client.said[0].endsWith('\n\nTell them the meeting moved to 4 pm.'), 'the words, trimmed, come last');
    const item = sim.apiCalls.find((r) => r.api === 'conversationItemCreate').args[0].item;
    assert.equal(item.type, 'message');
    assert.equal(item.role, 'system');
    assert.equal(item.content[0].type, 'input_text');
    const names = apiNames(sim);
    const itemAt = names.indexOf('conversationItemCreate');
    assert.ok(names.indexOf('responseCreate', itemAt) > itemAt, 'a response is asked for after the item');
    const spoken = bot.events.filter((e) => e.event === 'transcript').at(-1);
    assert.deepEqual(spoken.data, { role: 'agent', text: 'Tell them the meeting moved to 4 pm.' });
    assert.ok(!bot.events.some((e) => e.event === 'error'), 'no response was asked for while another was active');
  });
});

test('say while a response is under way waits for ResponseDone before asking for the next one', async () => {
  await withBot(async (bot) => {
    let answer;
    let responsesBefore;
    let responsesWhileActive;
    const { result, sim } = await runSession({
      customData: bot.customData({ destination: HOLD }),
      timeScale: 0.05,
      during: async (s, accessUrl) => {
        await bot.waitFor(conversationOver);
        const client = s.openaiClients[0];
        client.emit(OPENAI_REALTIME_EVENTS.ResponseCreated, { type: 'response.created', response: { id: 'resp_x' } });
        responsesBefore = s.apiCalls.filter((r) => r.api === 'responseCreate').length;
        answer = await say(accessUrl, 'Mention the parking code.');
        responsesWhileActive = s.apiCalls.filter((r) => r.api === 'responseCreate').length;
        client.emit(OPENAI_REALTIME_EVENTS.ResponseDone, { type: 'response.done', response: { id: 'resp_x' } });
        await hangup(accessUrl);
      },
    });
    assert.equal(result.exitCode, 0, result.reason);
    assert.deepEqual(answer.json, { ok: true });
    assert.equal(responsesWhileActive, responsesBefore, 'no response.create while one is active');
    assert.equal(sim.apiCalls.filter((r) => r.api === 'responseCreate').length, responsesBefore + 1);
  });
});

test('say with bad text is refused and nothing reaches the agent; a long text counts characters, not UTF-16 units', async () => {
  await withBot(async (bot) => {
    const answers = {};
    const { result, sim } = await runSession({
      customData: bot.customData({ destination: HOLD }),
      timeScale: 0.05,
      during: async (s, accessUrl) => {
        await bot.waitFor(conversationOver);
        answers.missing = await control(accessUrl, { action: 'say', secret: SECRET });
        answers.empty = await say(accessUrl, '   ');
        answers.number = await say(accessUrl, 42);
        answers.long = await say(accessUrl, 'a'.repeat(501));
        answers.said = s.openaiClients[0].said.length;
        answers.emoji = await say(accessUrl, '🙂'.repeat(500)); // 500 characters, 1,000 UTF-16 units
        await hangup(accessUrl);
      },
    });
    assert.equal(result.exitCode, 0, result.reason);
    const notText = { ok: false, error: "field 'text' must be a non-empty string" };
    assert.deepEqual(answers.missing.json, notText);
    assert.deepEqual(answers.empty.json, notText);
    assert.deepEqual(answers.number.json, notText);
    assert.deepEqual(answers.long.json, { ok: false, error: "field 'text' is 501 characters; at most 500" });
    assert.equal(answers.said, 0, 'no refused text reached the agent');
    assert.deepEqual(answers.emoji.json, { ok: true });
    assert.equal(sim.openaiClients[0].said.length, 1);
  });
});

test('say is refused with a clear reason while the agent is not live: ringing, at a voicemail box, ending', async () => {
  const answers = {};
  await withBot(async (bot) => {
    const { result, sim } = await runSession({
      customData: bot.customData({ destination: NO_ANSWER }),
      timeScale: 0.2,
      during: async (s, accessUrl) => {
        await bot.waitFor((events) => events.some((e) => e.event === 'ringing'));
        answers.ringing = await say(accessUrl, 'Hello?');
      },
    });
    assert.equal(result.exitCode, 0, result.reason);
    assert.equal(sim.openaiClients.length, 0);
  });
  await withBot(async (bot) => {
    const { result, sim } = await runSession({
      customData: bot.customData({ destination: VOICEMAIL }),
      timeScale: 0.05,
      during: async (s, accessUrl) => {
        await bot.waitFor((events) => events.some((e) => e.event === 'answered'));
        answers.voicemail = await say(accessUrl, 'Call back tomorrow.');
        await hangup(accessUrl);
        answers.ending = await say(accessUrl, 'Goodbye.');
      },
    });
    assert.equal(result.exitCode, 0, result.reason);
    assert.deepEqual(sim.openaiClients.flatMap((c) => c.said), []);
  });
  assert.deepEqual(answers.ringing.json, {
    ok: false, error: 'the call is not connected yet: the agent can pass a message on once the callee answers',
  });
  assert.deepEqual(answers.voicemail.json, {
    ok: false, error: 'the call reached a voicemail box: the agent is leaving its message and takes no requests',
  });
  assert.deepEqual(answers.ending.json, { ok: false, error: 'the call is ending: there is nobody to say it to' });
});

test('say with a wrong or missing secret is refused like any control request and changes nothing', async () => {
  await withBot(async (bot) => {
    const answers = [];
    const { result, sim } = await runSession({
      customData: bot.customData({ destination: HOLD }),
      timeScale: 0.05,
      during: async (s, accessUrl) => {
        await bot.waitFor(conversationOver);
        answers.push(await say(accessUrl, 'Hello', `${SECRET}x`));
        answers.push(await control(accessUrl, { action: 'say', text: 'Hello' }));
        await hangup(accessUrl);
      },
    });
    assert.equal(result.exitCode, 0, result.reason);
    for (const a of answers) {
      assert.deepEqual(a.json, WRONG);
      assert.ok(!a.text.includes(SECRET));
    }
    assert.deepEqual(sim.openaiClients[0].said, []);
    assert.ok(!apiNames(sim).includes('conversationItemCreate'));
  });
});

test('pull mode: say works over the access URL with the control secret', async () => {
  let answer;
  let wrong;
  const { result, sim } = await runSession({
    customData: pullLaunchData(),
    timeScale: 0.05,
    during: async (s, accessUrl) => {
      const polling = pullBot(accessUrl, { brief: makePullBrief({ destination: HOLD }) });
      const deadline = Date.now() + 5000;
      while (!(s.openaiClients[0] && s.openaiClients[0].talking) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      await new Promise((resolve) => setTimeout(resolve, 300)); // past the scripted lines (3.3 s × 0.05)
      wrong = await say(accessUrl, 'Hi', 'guess');
      answer = await say(accessUrl, 'The code is on its way.');
      await hangup(accessUrl);
      await polling;
    },
  });
  assert.equal(result.exitCode, 0, result.reason);
  assert.deepEqual(wrong.json, WRONG);
  assert.deepEqual(answer.json, { ok: true });
  assert.equal(sim.openaiClients[0].said.length, 1);
});

// -- press_keys -------------------------------------------------------------------------------------------------

test('press_keys is declared in the session as a function tool limited to keypad keys', async () => {
  await withBot(async (bot) => {
    const { sim } = await runSession({ customData: bot.customData({ destination: MENU }), timeScale: 0.05 });
    // A plain copy: the record was made inside the simulator's context, whose arrays have their own prototype.
    const session = JSON.parse(JSON.stringify(sim.apiCalls.find((r) => r.api === 'sessionUpdate').args[0].session));
    assert.equal(session.tool_choice, 'auto');
    assert.equal(session.tools.length, 1);
    const tool = session.tools[0];
    assert.equal(tool.type, 'function');
    assert.equal(tool.name, 'press_keys');
    assert.deepEqual(tool.parameters.required, ['digits']);
    assert.equal(tool.parameters.properties.digits.type, 'string');
    assert.equal(tool.parameters.properties.digits.pattern, '^[0-9*#]{1,20}$');
  });
});

test('press_keys: the keys are sent with Call.sendDigits, reported as `keys`, and the result goes back to the model', async () => {
  await withBot(async (bot) => {
    const { result, sim } = await runSession({ customData: bot.customData({ destination: MENU }), timeScale: 0.05 });
    assert.equal(result.exitCode, 0, result.reason);
    const names = checkEnvelope(assert, bot.events);
    const keys = bot.events.filter((e) => e.event === 'keys');
    assert.equal(keys.length, 1);
    assert.deepEqual(keys[0].data, { digits: '1' });
    assert.ok(names.indexOf('keys') > names.indexOf('connected') && names.indexOf('keys') < names.indexOf('disconnected'));
    assert.deepEqual(sim.apiCalls.filter((r) => r.api === 'sendDigits').map((r) => r.args), [['1']]);
    const client = sim.openaiClients[0];
    assert.deepEqual(client.toolOutputs, [{ call_id: 'call_1', output: JSON.stringify({ ok: true, pressed: '1' }) }]);
    // The result is handed back, then a response asked for once the function call's response is done.
    const apiNamesInOrder = apiNames(sim);
    const output = apiNamesInOrder.indexOf('conversationItemCreate');
    assert.ok(apiNamesInOrder.indexOf('sendDigits') < output);
    assert.ok(apiNamesInOrder.indexOf('responseCreate', output) > output);
    const handedBack = sim.events.findIndex((e) => e.kind === 'api' && e.name === 'conversationItemCreate');
    const done = sim.events.findIndex((e) => e.kind === 'openai' && e.name === OPENAI_REALTIME_EVENTS.ResponseDone);
    const asked = sim.events.findIndex((e, i) => i > handedBack && e.kind === 'api' && e.name === 'responseCreate');
    assert.ok(handedBack >= 0 && done > handedBack, 'the output is handed back before the response is done');
    assert.ok(asked > done, 'no response.create while the function call\'s response was still active');
    assert.equal(bot.events.at(-1).event, 'disconnected', 'the call goes on to its end');
  });
});

test('press_keys with keys that are not a keypad\'s, or too many, is refused to the model: nothing sent or reported', async () => {
  await withBot(async (bot) => {
    const { result, sim } = await runSession({
      customData: bot.customData({ destination: HOLD }),
      timeScale: 0.05,
      during: async (s, accessUrl) => {
        await bot.waitFor(conversationOver);
        const client = s.openaiClients[0];
        client.callFunction('press_keys', JSON.stringify({ digits: '1a' }));
        client.callFunction('press_keys', JSON.stringify({ digits: '12p3' })); // p is VoxEngine's pause: not ours
        client.callFunction('press_keys', JSON.stringify({ digits: '' }));
        client.callFunction('press_keys', JSON.stringify({ digits: 7 }));
        client.callFunction('press_keys', 'not json');
        client.callFunction('press_keys', JSON.stringify({ digits: '1'.repeat(21) }));
        client.callFunction('open_door', JSON.stringify({ digits: '1' }));
        await hangup(accessUrl);
      },
    });
    assert.equal(result.exitCode, 0, result.reason);
    assert.ok(!apiNames(sim).includes('sendDigits'));
    assert.ok(!bot.events.some((e) => e.event === 'keys'));
    const outputs = sim.openaiClients[0].toolOutputs.map((o) => JSON.parse(o.output));
    const notKeys = { ok: false, error: 'digits must be keys of a phone keypad: 0-9, * and #; nothing was pressed' };
    assert.deepEqual(outputs, [
      notKeys, notKeys, notKeys, notKeys, notKeys,
      { ok: false, error: 'at most 20 keys at a time; nothing was pressed' },
      { ok: false, error: "there is no tool named 'open_door'" },
    ]);
    assert.ok(!sim.logs.some((line) => line.includes('1'.repeat(21))), 'keys are never logged');
  });
});

test('press_keys: twenty keys are pressed; the same function call seen twice is acted on once', async () => {
  await withBot(async (bot) => {
    const { result, sim } = await runSession({
      customData: bot.customData({ destination: HOLD }),
      timeScale: 0.05,
      during: async (s, accessUrl) => {
        await bot.waitFor(conversationOver);
        const client = s.openaiClients[0];
        client.callFunction('press_keys', JSON.stringify({ digits: '*#0123456789*#012345' }));
        const item = { type: 'function_call', name: 'press_keys', call_id: 'call_same', arguments: '{"digits":"9"}' };
        for (let i = 0; i < 2; i++) {
          client.emit(OPENAI_REALTIME_EVENTS.ResponseOutputItemDone, { type: 'response.output_item.done', item });
        }
        await bot.waitFor((events) => events.filter((e) => e.event === 'keys').length >= 2);
        await hangup(accessUrl);
      },
    });
    assert.equal(result.exitCode, 0, result.reason);
    assert.deepEqual(sim.apiCalls.filter((r) => r.api === 'sendDigits').map((r) => r.args[0]), ['*#0123456789*#012345', '9']);
    assert.deepEqual(bot.events.filter((e) => e.event === 'keys').map((e) => e.data.digits), ['*#0123456789*#012345', '9']);
  });
});
