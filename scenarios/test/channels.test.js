'use strict';
// Each channel places the right VoxEngine call with the right arguments, and the call runs to its end.
const test = require('node:test');
const assert = require('node:assert/strict');
const { startCallbackServer, runSession, apiNames, checkEnvelope } = require('../testkit/harness');

const CASES = [
  {
    channel: 'pstn',
    destination: '+14155550100',
    api: 'callPSTN',
    args: ['+14155550100', '+14155559999', { amd: '[amd amd-1]' }], // with its answering-machine detector
  },
  {
    channel: 'sip',
    destination: 'sip:alice@pbx.example.org',
    api: 'callSIP',
    args: ['sip:alice@pbx.example.org', { callerid: '+14155559999' }],
  },
  {
    channel: 'user',
    destination: 'alice',
    api: 'callUser',
    args: [{ username: 'alice', callerid: '+14155559999' }],
  },
  {
    channel: 'whatsapp',
    destination: '+447700900123',
    api: 'callWhatsappUser',
    args: [{ number: '+447700900123', callerid: '+14155559999' }],
  },
];

for (const c of CASES) {
  test(`channel ${c.channel} dials with VoxEngine.${c.api} and the contract's arguments`, async () => {
    const bot = await startCallbackServer();
    try {
      const { result, sim } = await runSession({
        customData: bot.customData({ channel: c.channel, destination: c.destination }),
      });
      assert.equal(result.exitCode, 0, result.reason);
      const dials = sim.apiCalls.filter((r) => /^call(PSTN|SIP|User|WhatsappUser)$/.test(r.api));
      assert.deepEqual(dials, [{ api: c.api, args: c.args }], 'exactly one call, placed on the right channel');
      const names = checkEnvelope(assert, bot.events);
      const answered = c.channel === 'pstn' ? ['answered'] : []; // answering-machine detection: PSTN only
      assert.deepEqual(names.filter((n) => n !== 'transcript'),
        ['started', 'dialing', 'ringing', 'connected', ...answered, 'disconnected']);
      assert.equal(apiNames(sim).at(-1), 'terminate');
    } finally {
      await bot.close();
    }
  });
}
