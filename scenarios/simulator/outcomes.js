'use strict';
/**
 * Scripted call outcomes, chosen by destination. Times are in simulated milliseconds from the dial (before
 * time_scale). pstn/whatsapp numbers are matched by their last 4 digits, sip/user destinations by the user part
 * (after "sip:"/"sips:", before "@"), case-insensitively. Keep the table in scenarios/README.md in step.
 */

const OUTCOMES = {
  // CallEvents.Failed codes as Voximplant documents them (d.ts, CallEvents.Failed / _FailedEvent.code: 486 busy,
  // 487 request terminated, 404 invalid number, 480 destination unavailable, 402 insufficient funds, 603 rejected,
  // 408 not answered within 60 s; reason phrases are SIP's, RFC 3261 section 21).
  busy: { digits: '0186', ringingAt: 300, failAt: 1300, code: 486, reason: 'Busy Here' },
  noanswer: { digits: '0180', ringingAt: 300, failAt: 3300, code: 480, reason: 'Temporarily Unavailable' },
  timeout: { digits: '0187', ringingAt: 300, failAt: 3300, code: 487, reason: 'Request Terminated' },
  // Rings out: Voximplant fails an unanswered call with 408 after 60 s (shortened here to 3 s, like noanswer).
  unanswered: { digits: '0148', ringingAt: 300, failAt: 3300, code: 408, reason: 'Request Timeout' },
  // Rings the whole minute: the d.ts (VoxEngine.callPSTN, callUser) "can trigger the [CallEvents.Failed] event in 60
  // sec", 408 "not answered within 60 s" (not shortened: a join gives up on it after 30 s).
  ringout: { digits: '0140', ringingAt: 300, failAt: 60000, code: 408, reason: 'Request Timeout' },
  rejected: { digits: '0160', ringingAt: 300, failAt: 1300, code: 603, reason: 'Decline' },
  // The account cannot pay for the call: refused at once, before anything rings.
  nofunds: { digits: '0142', ringingAt: null, failAt: 200, code: 402, reason: 'Payment Required' },
  // The network cannot carry the call (no route, carrier down): SIP's 503, at once and without ringing.
  unreachable: { digits: '0199', ringingAt: null, failAt: 200, code: 503, reason: 'Service Unavailable' },
  invalid: { digits: '0144', ringingAt: null, failAt: 200, code: 404, reason: 'Not Found' },
  hold: { digits: '0177', ringingAt: 300, answerAt: 1000, hangupAfter: null, ai: 'talk' },
  // The connection to the Voice AI fails mid-call (WebSocketError): the call ends with ai_error.
  aierror: { digits: '0166', ringingAt: 300, answerAt: 1000, hangupAfter: null, ai: 'error' },
  aifail: { digits: '0165', ringingAt: 300, answerAt: 1000, hangupAfter: null, ai: 'create-fails' },
  // A good call with recoverable Voice AI errors in the middle: reported, and the call goes on to its end.
  aiglitch: { digits: '0167', ringingAt: 300, answerAt: 1000, hangupAfter: 5000, ai: 'glitch' },
  // Answering-machine detection (PSTN calls dialled with an AMD detector; see amd.js): `amd` is the verdict the
  // detector reports (AMD.ResultClass of d.ts v28, or 'error' for AMD.Events.DetectionError), `amdAt` when (ms after
  // the answer; TIMEOUT comes at the detector's own timeout). Every other answered outcome is HUMAN at 0.15 s.
  // A voicemail box: greeting, then a beep 1.5 s after the scenario starts listening for it (Call.enableBeepDetection);
  // the box records for up to 60 s. Its agent speaks one message (openai.js, ai "voicemail").
  voicemail: { digits: '0150', ringingAt: 300, answerAt: 1000, hangupAfter: 60000, ai: 'voicemail', amd: 'VOICEMAIL', amdAt: 2000, beepAfter: 1500 },
  amdtimeout: { digits: '0151', ringingAt: 300, answerAt: 1000, hangupAfter: 12000, ai: 'talk', amd: 'TIMEOUT' },
  // The callee hangs up while AMD listens: Disconnected, then DetectionComplete CALL_ENDED.
  amdhangup: { digits: '0152', ringingAt: 300, answerAt: 1000, hangupAfter: null, ai: 'talk', amd: 'CALL_ENDED', amdAt: 1500 },
  amderror: { digits: '0153', ringingAt: 300, answerAt: 1000, hangupAfter: 5000, ai: 'talk', amd: 'error', amdAt: 150 },
  // A phone menu answers ("press 1 for sales"): the agent talks as in a good call and, 0.6 s into the conversation,
  // calls its press_keys tool with digits "1" (openai.js, ai "menu").
  menu: { digits: '0130', ringingAt: 300, answerAt: 1000, hangupAfter: 5000, ai: 'menu' },
  // Two progress signals (like 180 Ringing, then 183 Session Progress): the scenario must report ringing once.
  answered: { digits: null, ringingAt: 300, ringingAgainAt: 600, answerAt: 1000, hangupAfter: 5000, ai: 'talk' },
};

/** The outcome name for a destination on a channel ("answered" when nothing else matches). */
function outcomeFor(channel, destination) {
  const text = String(destination || '');
  if (channel === 'pstn' || channel === 'whatsapp') {
    const digits = text.replace(/\D/g, '').slice(-4);
    for (const [name, outcome] of Object.entries(OUTCOMES)) {
      if (outcome.digits && outcome.digits === digits) return name;
    }
    return 'answered';
  }
  const user = text.replace(/^sips?:/i, '').split('@')[0].toLowerCase();
  return Object.prototype.hasOwnProperty.call(OUTCOMES, user) ? user : 'answered';
}

/** Per-minute rate used for the simulated Disconnected cost (account currency). */
const COST_PER_MINUTE = 0.012;

function costFor(durationSeconds) {
  const minutes = Math.max(1, Math.ceil(durationSeconds / 60));
  return Math.round(minutes * COST_PER_MINUTE * 10000) / 10000;
}

module.exports = { OUTCOMES, outcomeFor, costFor, COST_PER_MINUTE };
