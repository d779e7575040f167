/*
 * callbot: outbound call with an OpenAI Realtime agent (VoxEngine scenario).
 *
 * Started by the bot through StartScenarios. Custom data is only a reference to the call's brief (launch contract
 * v2, see scenarios/README.md). Push mode: the scenario fetches the brief from the bot and reports status events to
 * the bot's callback URL. Pull mode (a bot without a public URL): the bot delivers the brief over the session's
 * access URL and polls it for the status events, which the scenario queues until the bot confirms them. Either way
 * it places one call on the requested channel, bridges it to an OpenAI Realtime client once the callee answers,
 * accepts {"action":"hangup","secret":...} on the access URL, and always ends with VoxEngine.terminate().
 *
 * Plain VoxEngine JavaScript: no Node modules, no import/export. Secrets (the brief token, the callback token, the
 * control secret and the OpenAI key) never go into Logger output.
 */

require(Modules.OpenAI);

// The contract versions this scenario speaks (scenarios/README.md, "Contracts"): launch (custom data and brief) v2,
// status events v1. Kept on one line so that tools can read it from the file: /CALLBOT_CONTRACT = (\{.*?\});/
var CALLBOT_CONTRACT = { launch: 2, events: 1 };

var CHANNELS = ["pstn", "sip", "user", "whatsapp"];
var OPENAI_KEY_SECRET = "OPENAI_API_KEY"; // name of the secret in the application's secret storage
var OPENAI_MODEL = "gpt-realtime";
var TRANSCRIPTION_MODEL = "gpt-4o-mini-transcribe";

// VoxEngine ends a session that has no call after 60 s (voximplant.com/docs/guides/voxengine/limits), counted again
// from the end of the last call (voxengine.d.ts, Call.hangup). Every wait that happens while there is no call
// (fetching the brief; flushing events after the call) stays inside that.
var BRIEF_TIMEOUT_S = 10; // Net.httpRequestAsync timeout of one try, in seconds
var BRIEF_BACKOFF_MS = [500, 1000, 2000, 4000, 8000]; // waits between tries; the last one repeats
var BRIEF_GIVE_UP_MS = 30000; // no brief within this: give up (and terminate) well inside the 60 s
var CALLBACK_TIMEOUT_S = 10; // Net.httpRequestAsync timeout of one status-event try, in seconds
var CALLBACK_BACKOFF_MS = [500, 1000, 2000, 4000, 5000]; // waits between tries of one event; the last one repeats
var CALLBACK_RETRY_MS = 120000; // each event is retried this long (at least 90 s: a bot restart or deploy)
var NO_CALL_FLUSH_MS = 50000; // after the call, events are flushed at most this long: 10 s short of the 60 s
var HANGUP_GRACE_MS = 5000; // longest wait for Disconnected/Failed after our own hangup
var WATCHDOG_EXTRA_S = 300; // the session never outlives max_duration_s plus this (dialling, ringing, slack)
var MAX_RECOVERABLE_ERRORS = 10; // recoverable AI errors reported per call; later ones are only logged

// Answering-machine detection, PSTN only (voxengine.d.ts: AMD.create, CallPSTNParameters.amd, AMD.Events; Voximplant's
// voicemail-detection guide, voximplant.com/docs/guides/calls/voicemail-detection). The bot picks the model from the
// destination's country (brief field `amd_model`, an AMD.Model member name); anything else is EU_GENERAL.
var AMD_MODELS = ["BR", "CL", "CO", "KZ", "MX", "RU", "PH", "PE", "US", "EU_GENERAL"]; // AMD.Model in the d.ts v28
var AMD_DEFAULT_MODEL = "EU_GENERAL";
var AMD_TIMEOUT_MS = 6500; // AMDParameters.timeout: the d.ts default, counted from CallEvents.Connected
var AMD_GRACE_MS = 3000; // no verdict this long after AMD's own timeout: go on as if it said "unknown"
var BEEP_TIMEOUT_MS = 10000; // Call.enableBeepDetection timeout: the greeting's beep, or speak anyway after it
var VOICEMAIL_MAX_MS = 60000; // the agent's voicemail message ends by then, spoken or not
var MEDIA_END_SILENCE_S = 1; // OpenAI.Events.WebSocketMediaEnded comes after 1 s of silence (d.ts)
var MAX_VOICEMAIL_S = 600; // the bot's limit on voicemail.message_s
var MAX_RECORDING_URL_CHARS = 2000; // the bot's limit on recording.url (HTTPS only)
// Steering the agent from Slack (scenarios/README.md, "Control"): the requester's Say… text, and the keypad tool.
var MAX_SAY_CHARS = 500; // the bot's Say… form takes at most this many characters
var MAX_KEYS = 20; // press_keys: at most this many keys per call of the tool
var KEYS = /^[0-9*#]+$/; // press_keys: the DTMF keys of a phone's keypad (Call.sendDigits also takes p, a pause: not ours)
// Said first on every call when the brief names no disclosure (a bot older than it); the bot's own is preferred.
var DEFAULT_DISCLOSURE = "Hello, this is an automated assistant calling.";

// Pull mode (custom data {"v":2,"id","m":"pull"}): the bot has no public URL and talks over the access URL only.
var PULL_BRIEF_WAIT_MS = 30000; // no brief over the access URL within this: give up (and terminate) inside the 60 s
var PULL_EVENTS_PER_ANSWER = 20; // at most this many events in one answer to {"action":"events"}: a short handler run
var PULL_MERGE_AFTER = 200; // past this many unconfirmed events, same-role transcript lines not yet sent are merged

// The longest text the bot takes in each event field (scenarios/README.md); longer text is cut to fit, ending in
// an ellipsis, so that the bot never refuses an event (a refusal is final: the event would be lost).
var MAX_TRANSCRIPT_CHARS = 10000;
var MAX_FAILED_REASON_CHARS = 500;
var MAX_DISCONNECTED_REASON_CHARS = 100;
var MAX_ERROR_MESSAGE_CHARS = 2000;

var E164 = /^\+[1-9][0-9]{6,14}$/;
var SIP_URI = /^sips?:[^\s@]+@[^\s]+$/;
var NO_SPACE = /^\S+$/;
var HTTP_URL = /^https?:\/\/\S+$/;

// ---------------------------------------------------------------------------------------------------------
// Session state
// ---------------------------------------------------------------------------------------------------------

var config = null; // the validated brief
var controlSecret = null; // the brief's control_secret: control requests must carry it
var reporter = null; // push: {url, token, callId} once the callback is usable; pull: {pull: true, callId}
var seq = 0; // the last seq given to an event (push: when it first went out; pull: when it was queued)
var launch = null; // custom data, read once: {id, mode: "push"|"pull", url, token} or {problem, data}
var started = false; // AppEvents.Started has run
var call = null;
var aiClient = null;
var connectedAt = 0; // Date.now() at CallEvents.Connected, 0 before
var endReason = null; // set when we decide to end the call: hangup_requested | max_duration | ai_error | error
var callOver = false; // Disconnected or Failed seen (or given up waiting for it)
var finished = false; // finish() ran: no more events, flushing then terminate
var terminated = false;
var ringingReported = false;
var recoverableErrors = 0;
var maxDurationTimer = null;
var hangupGraceTimer = null;
var watchdogTimer = null;
var lastError = null; // the last error reported: the reason of the `failed` ending a session that placed no call

// Who answered (answering-machine detection) and how the conversation starts.
var amd = null; // the AMD.AnsweringMachineDetector of a PSTN call, when it could be created
var verdict = null; // "human" | "voicemail" | "unknown" | "ended" (hung up during detection) | "none" (no AMD)
var verdictApplied = false; // acted on (needs the call connected)
var amdTimer = null;
var beepHeard = false; // voicemail: the greeting's beep (or its timeout) came; the agent may speak
var beepTimer = null;
var sessionReady = false; // the AI session exists (SessionCreated)
var conversationStarted = false; // the agent was configured and asked to speak
var voicemailReported = false;
var voicemailTimer = null;
var voicemailSpeechStartedAt = 0; // Date.now() when the agent's voicemail audio started playing

// Steering: a response is asked for only when none is under way and the callee is not speaking (OpenAI Realtime
// refuses a second active response: conversation_already_has_active_response).
var responseActive = false; // between ResponseCreated and ResponseDone
var calleeSpeaking = false; // between InputAudioBufferSpeechStarted and InputAudioBufferSpeechStopped
var responseWanted = false; // a Say… text or a tool's result waits for the agent's next response
var toolCallsSeen = {}; // call_id -> true: each function call is acted on once

// While the session has no call, VoxEngine's 60 s clock runs: this timer fires NO_CALL_FLUSH_MS into it.
var noCallTimer = null;
var noCallDeadlinePassed = false;
var noCallWaiters = [];

function startNoCallClock() {
  if (noCallTimer) {
    return;
  }
  noCallDeadlinePassed = false;
  noCallTimer = setTimeout(function () {
    noCallTimer = null;
    noCallDeadlinePassed = true;
    var waiters = noCallWaiters;
    noCallWaiters = [];
    for (var i = 0; i < waiters.length; i++) {
      waiters[i]();
    }
  }, NO_CALL_FLUSH_MS);
}

function stopNoCallClock() {
  if (noCallTimer) {
    clearTimeout(noCallTimer);
    noCallTimer = null;
  }
  noCallDeadlinePassed = false;
}

// ---------------------------------------------------------------------------------------------------------
// Status events: an in-order queue, one request in flight, each event retried with backoff for
// CALLBACK_RETRY_MS. An event gets its seq when it first goes out, and keeps it through its retries. While an
// event waits to be delivered, transcript lines queued behind it that follow one another with the same role are
// merged into one event. Never awaited by call logic.
// ---------------------------------------------------------------------------------------------------------

var queue = []; // {event, data, at, seq (0 until it first goes out), body, tries, expired}
var sending = false; // a request is in flight
var retryTimer = null; // waiting to try the head of the queue again
var idleWaiters = [];

function report(event, data) {
  if (!reporter || finished) {
    return;
  }
  var item = { event: event, data: data || {}, at: new Date().toISOString(), seq: 0, body: null, tries: 0 };
  if (reporter.pull) {
    queuePulled(item);
    return;
  }
  if (event === "transcript" && coalesce(item)) {
    return;
  }
  queue.push(item);
  pump();
}

/** Merges a transcript line into the last queued event when that is an unsent line of the same role. */
function coalesce(item) {
  var last = queue.length > 1 ? queue[queue.length - 1] : null; // never the head: it may be on its way
  return !(last && last.seq) && appendLine(last, item);
}

/** Appends transcript line `item` to `last` when that is a transcript line of the same role with room for it. */
function appendLine(last, item) {
  if (!last || last.event !== "transcript" || last.data.role !== item.data.role) {
    return false;
  }
  var text = last.data.text + "\n" + item.data.text;
  if (text.length > MAX_TRANSCRIPT_CHARS) {
    return false;
  }
  last.data = { role: last.data.role, text: text };
  return true;
}

/** `text` cut to at most `max` UTF-16 units, ending in an ellipsis when cut; never half a surrogate pair. */
function clip(text, max) {
  var value = String(text);
  if (value.length <= max) {
    return value;
  }
  var cut = value.slice(0, max - 1);
  var last = cut.charCodeAt(cut.length - 1);
  if (last >= 0xd800 && last <= 0xdbff) {
    cut = cut.slice(0, -1);
  }
  return cut + "\u2026";
}

function reportError(message) {
  lastError = message;
  report("error", { message: clip(message, MAX_ERROR_MESSAGE_CHARS) });
}

// `failed` codes that are no SIP status: the session ended before it placed a call; VoxEngine's Failed had no code.
var NOT_PLACED = 0;
var NO_CODE = -1;

/** `failed` with a whole-number code (NO_CODE when VoxEngine gave none) and a reason the bot takes. */
function reportFailed(code, reason) {
  var number = code === null || code === undefined || code === "" ? NaN : Number(code);
  report("failed", {
    code: isFinite(number) ? Math.trunc(number) : NO_CODE,
    reason: clip(reason === undefined || reason === null ? "" : reason, MAX_FAILED_REASON_CHARS)
  });
}

function reportDisconnected(data) {
  data.reason = clip(data.reason, MAX_DISCONNECTED_REASON_CHARS);
  report("disconnected", data);
}

function backoff(list, tries) {
  return list[Math.min(tries, list.length) - 1];
}

/** Sends the head of the queue unless a request is in flight or a retry is already waiting. */
function pump() {
  if (sending || retryTimer || terminated) {
    return;
  }
  if (queue.length === 0) {
    notifyIdle();
    return;
  }
  var item = queue[0];
  if (!item.seq) {
    seq += 1;
    item.seq = seq;
    item.body = JSON.stringify({
      v: CALLBOT_CONTRACT.events,
      call_id: reporter.callId,
      seq: item.seq,
      event: item.event,
      at: item.at,
      data: item.data
    });
    item.expired = false;
    item.expiry = setTimeout(function () {
      item.expired = true;
    }, CALLBACK_RETRY_MS);
  }
  item.tries += 1;
  sending = true;
  post(item.body).then(function (code) {
    sending = false;
    settle(item, code);
  });
}

function settle(item, code) {
  if (terminated) {
    return; // VoxEngine runs the callbacks of requests still in flight at terminate, but has no timers then
  }
  var label = "event " + item.seq + " (" + item.event + ")";
  var done = code >= 200 && code < 300;
  if (!done && code >= 400 && code < 500 && code !== 408 && code !== 429) {
    Logger.write("callbot: " + label + " refused with HTTP " + code + "; dropped");
    done = true;
  } else if (!done && item.expired) {
    Logger.write("callbot: " + label + " not delivered in " + CALLBACK_RETRY_MS / 1000 + " s (" + item.tries +
      " tries, last code " + code + "); dropped");
    done = true;
  }
  if (done) {
    clearTimeout(item.expiry);
    queue.shift();
    pump();
    return;
  }
  retryTimer = setTimeout(function () {
    retryTimer = null;
    pump();
  }, backoff(CALLBACK_BACKOFF_MS, item.tries));
}

function post(body) {
  return request(reporter.url, {
    method: "POST",
    headers: {
      "Authorization": "Bearer " + reporter.token,
      "Content-Type": "application/json"
    },
    postData: body,
    timeout: CALLBACK_TIMEOUT_S
  }).then(function (result) {
    return result.code;
  });
}

/** Net.httpRequestAsync that always resolves to a result with a numeric code (-1 when VoxEngine threw). */
function request(url, options) {
  var pending;
  try {
    pending = Net.httpRequestAsync(url, options);
  } catch (e) {
    return Promise.resolve({ code: -1, text: "" });
  }
  return Promise.resolve(pending).then(
    function (result) {
      return result && typeof result.code === "number" ? result : { code: -1, text: "" };
    },
    function () {
      return { code: -1, text: "" };
    }
  );
}

function notifyIdle() {
  var waiters = idleWaiters;
  idleWaiters = [];
  for (var i = 0; i < waiters.length; i++) {
    waiters[i]();
  }
}

/** Push: nothing queued, in flight or waiting to be retried. Pull: every queued event confirmed by the bot. */
function deliveryIdle() {
  if (reporter && reporter.pull) {
    return pulled.length === 0;
  }
  return !sending && !retryTimer && queue.length === 0;
}

/**
 * Resolves when delivery is idle (push: the queue is empty; pull: the bot confirmed every event, the terminal one
 * last) or when the no-call deadline passes, whichever comes first.
 */
function flushQueue() {
  return new Promise(function (resolve) {
    var done = false;
    var settleOnce = function () {
      if (!done) {
        done = true;
        resolve(undefined);
      }
    };
    if (deliveryIdle()) {
      settleOnce();
      return;
    }
    idleWaiters.push(settleOnce);
    if (noCallDeadlinePassed) {
      settleOnce();
    } else {
      noCallWaiters.push(settleOnce);
    }
  });
}

// ---------------------------------------------------------------------------------------------------------
// Pull mode's queue: each event gets its seq when queued (gap-free) and stays until the bot confirms it with a poll
// {"action":"events","after":N} where N >= its seq. Answers carry at most PULL_EVENTS_PER_ANSWER events after N. Past
// PULL_MERGE_AFTER unconfirmed events, a transcript line is merged into the last queued event when that is a
// transcript of the same role that no answer has carried yet (so no seq is used, and none the bot saw changes).
// ---------------------------------------------------------------------------------------------------------

var pulled = []; // {event, data, at, seq, sent}, in seq order, unconfirmed
var terminalSeq = 0; // seq of the session's failed or disconnected, once queued
var confirmedUpTo = 0; // the highest `after` the bot has sent

function queuePulled(item) {
  if (item.event === "transcript" && pulled.length >= PULL_MERGE_AFTER && mergePulled(item)) {
    return;
  }
  seq += 1;
  item.seq = seq;
  item.sent = false;
  if (item.event === "failed" || item.event === "disconnected") {
    terminalSeq = item.seq;
  }
  pulled.push(item);
}

function mergePulled(item) {
  var last = pulled.length > 0 ? pulled[pulled.length - 1] : null;
  return !(last && last.sent) && appendLine(last, item);
}

/** {"action":"events","after":N}: confirms (drops) every event with seq <= N, answers the next ones. */
function pullEvents(body) {
  var after = body.after;
  if (!(typeof after === "number" && isFinite(after) && Math.floor(after) === after && after >= 0)) {
    return { ok: false, error: "field 'after' must be a whole number >= 0 (the last seq received, 0 for none)" };
  }
  if (after > seq) {
    // Only a bot that lost track could send it; confirming events it never saw would lose them.
    return { ok: false, error: "field 'after' is " + after + " but the last seq given is " + seq };
  }
  if (after > confirmedUpTo) {
    confirmedUpTo = after;
  }
  while (pulled.length > 0 && pulled[0].seq <= after) {
    pulled.shift();
  }
  var events = [];
  for (var i = 0; i < pulled.length && events.length < PULL_EVENTS_PER_ANSWER; i++) {
    pulled[i].sent = true;
    events.push({
      v: CALLBOT_CONTRACT.events,
      call_id: reporter.callId,
      seq: pulled[i].seq,
      event: pulled[i].event,
      at: pulled[i].at,
      data: pulled[i].data
    });
  }
  var done = terminalSeq > 0 && confirmedUpTo >= terminalSeq;
  if (pulled.length === 0) {
    notifyIdle(); // once finish() waits: terminate (after this answer has been returned)
  }
  return { ok: true, events: events, last_seq: seq, done: done };
}

// ---------------------------------------------------------------------------------------------------------
// Launch contract v2: custom data {"v":2,"id","u","t"} (push) or {"v":2,"id","m":"pull"}, and the brief
// ---------------------------------------------------------------------------------------------------------

var UPGRADE_HINT = "this scenario speaks v" + CALLBOT_CONTRACT.launch + ": upgrade the bot / run `callbot setup`";

function isNonEmptyString(value) {
  return typeof value === "string" && value.trim().length > 0;
}

function isObject(value) {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function usableCallback(data) {
  return isNonEmptyString(data.callback_url) && HTTP_URL.test(data.callback_url) &&
    isNonEmptyString(data.callback_token);
}

/** JSON text to an object, or null. The parser's message is left out: it may quote the text, and so a secret. */
function parseObject(text) {
  try {
    var value = JSON.parse(text);
    return isObject(value) ? value : null;
  } catch (e) {
    return null;
  }
}

/**
 * Reads custom data. Returns {launch: {id, url, token}} for usable v2 data, or {problem, data} where data is the
 * parsed object when there was one (old-contract data may still name a callback to tell the bot why).
 */
function parseCustomData(raw) {
  if (!isNonEmptyString(raw)) {
    return { problem: "custom data is empty; expected launch contract v" + CALLBOT_CONTRACT.launch + " {\"v\",\"id\",\"u\",\"t\"}" };
  }
  var data = parseObject(raw);
  if (!data) {
    return { problem: "custom data is not a JSON object; expected launch contract v" + CALLBOT_CONTRACT.launch + " {\"v\",\"id\",\"u\",\"t\"}" };
  }
  if (data.v !== CALLBOT_CONTRACT.launch) {
    var spoken = data.v === undefined ? "names no launch contract version" : "speaks launch contract v" + String(data.v);
    return { problem: "custom data " + spoken + "; " + UPGRADE_HINT, data: data };
  }
  var problems = [];
  if (!isNonEmptyString(data.id)) {
    problems.push("field 'id' is missing or not a non-empty string");
  }
  var pull = data.m === "pull";
  if (data.m !== undefined && data.m !== "push" && !pull) {
    problems.push("field 'm' must be \"push\" or \"pull\"");
  } else if (pull) {
    if (data.u !== undefined || data.t !== undefined) {
      problems.push("fields 'u' and 't' are for push mode; in pull mode the brief comes over the access URL");
    }
  } else {
    if (!isNonEmptyString(data.u) || !HTTP_URL.test(data.u)) {
      problems.push("field 'u' is not an http(s) URL");
    }
    if (!isNonEmptyString(data.t)) {
      problems.push("field 't' is missing or not a non-empty string");
    }
  }
  if (problems.length > 0) {
    return { problem: "bad custom data: " + problems.join("; ") };
  }
  if (pull) {
    return { launch: { id: data.id, mode: "pull", url: null, token: null } };
  }
  return { launch: { id: data.id, mode: "push", url: data.u, token: data.t } };
}

/** Custom data, read once (a pull-mode brief may come before AppEvents.Started). */
function readLaunch() {
  if (!launch) {
    launch = parseCustomData(VoxEngine.customData());
  }
  return launch;
}

function pullMode() {
  return Boolean(launch && launch.launch && launch.launch.mode === "pull");
}

/**
 * Fetches the brief: GET with the brief token, tried again after a network failure (code <= 0), 408, 429 or 5xx
 * with backoff, for at most BRIEF_GIVE_UP_MS. Resolves to {text} on 200, or {problem} (never with the token).
 */
function fetchBrief(launch) {
  return new Promise(function (resolve) {
    var settled = false;
    var tries = 0;
    var lastCode = null;
    var finish = function (result) {
      if (!settled) {
        settled = true;
        clearTimeout(giveUp);
        resolve(result);
      }
    };
    var giveUp = setTimeout(function () {
      finish({
        problem: "no brief from " + launch.url + " within " + BRIEF_GIVE_UP_MS / 1000 + " s (" + tries +
          " tries, last code " + lastCode + ")"
      });
    }, BRIEF_GIVE_UP_MS);
    var attempt = function () {
      tries += 1;
      request(launch.url, {
        method: "GET",
        headers: { "Authorization": "Bearer " + launch.token, "Accept": "application/json" },
        timeout: BRIEF_TIMEOUT_S
      }).then(function (result) {
        if (settled) {
          return;
        }
        lastCode = result.code;
        if (result.code === 200) {
          finish({ text: typeof result.text === "string" ? result.text : "" });
          return;
        }
        var retry = result.code <= 0 || result.code === 408 || result.code === 429 || result.code >= 500;
        if (!retry) {
          finish({ problem: "the bot refused the brief at " + launch.url + " with HTTP " + result.code + " (final)" });
          return;
        }
        setTimeout(guard(attempt), backoff(BRIEF_BACKOFF_MS, tries));
      });
    };
    attempt();
  });
}

/** Checks a brief; returns a list of problems (empty when it is good). A pull-mode brief has no callback. */
function checkBrief(data, launch) {
  var problems = [];
  var pull = launch.mode === "pull";
  if (data.v !== CALLBOT_CONTRACT.launch) {
    problems.push("field 'v' is " + JSON.stringify(data.v) + " (expected " + CALLBOT_CONTRACT.launch + ")");
  }
  var fields = ["call_id", "destination", "caller_id", "channel", "instructions"];
  if (!pull) {
    fields.push("callback_url", "callback_token");
  }
  fields.forEach(function (field) {
    if (!isNonEmptyString(data[field])) {
      problems.push("field '" + field + "' is missing or not a non-empty string");
    }
  });
  if (isNonEmptyString(data.call_id) && data.call_id !== launch.id) {
    problems.push("call_id '" + data.call_id + "' is not the call id in custom data ('" + launch.id + "')");
  }
  if (isNonEmptyString(data.channel) && CHANNELS.indexOf(data.channel) < 0) {
    problems.push("channel '" + data.channel + "' is not one of " + CHANNELS.join(", "));
  }
  if (isNonEmptyString(data.destination) && CHANNELS.indexOf(data.channel) >= 0) {
    var destinationProblem = checkDestination(data.channel, data.destination);
    if (destinationProblem) {
      problems.push(destinationProblem);
    }
  }
  if (isNonEmptyString(data.caller_id) && !NO_SPACE.test(data.caller_id)) {
    problems.push("caller_id must not contain whitespace");
  }
  if (!pull && isNonEmptyString(data.callback_url) && !HTTP_URL.test(data.callback_url)) {
    problems.push("callback_url is not an http(s) URL");
  }
  if (!(typeof data.max_duration_s === "number" && Math.floor(data.max_duration_s) === data.max_duration_s &&
    data.max_duration_s > 0)) {
    problems.push("field 'max_duration_s' must be a positive integer");
  }
  if (!isNonEmptyString(data.control_secret)) {
    problems.push("field 'control_secret' is missing or not a non-empty string");
  }
  // Optional fields (a bot older than them sends none): at a voicemail greeting, recording, the first words.
  if (data.voicemail !== undefined && data.voicemail !== "leave" && data.voicemail !== "hang_up") {
    problems.push("field 'voicemail' must be \"leave\" or \"hang_up\"");
  }
  if (data.record !== undefined && typeof data.record !== "boolean") {
    problems.push("field 'record' must be true or false");
  }
  if (data.disclosure !== undefined && !isNonEmptyString(data.disclosure)) {
    problems.push("field 'disclosure' must be a non-empty string");
  }
  if (data.amd_model !== undefined && typeof data.amd_model !== "string") {
    problems.push("field 'amd_model' must be a string (an AMD.Model name)");
  }
  return problems;
}

function checkDestination(channel, destination) {
  if ((channel === "pstn" || channel === "whatsapp") && !E164.test(destination)) {
    return "destination for channel '" + channel + "' must be an E.164 number such as +14155550100";
  }
  if (channel === "sip" && !SIP_URI.test(destination)) {
    return "destination for channel 'sip' must be a SIP URI such as sip:alice@example.org";
  }
  if (channel === "user" && !NO_SPACE.test(destination)) {
    return "destination for channel 'user' must be an application user name without spaces";
  }
  return null;
}

/** Reports to a callback named by data (if usable) that the session ends before placing a call, then finishes. */
function refuse(message, data, callId) {
  Logger.write("callbot: " + message);
  if (data && usableCallback(data)) {
    reporter = { url: data.callback_url, token: data.callback_token, callId: callId };
    reportError(message);
  }
  finish();
}

// ---------------------------------------------------------------------------------------------------------
// The call
// ---------------------------------------------------------------------------------------------------------

function placeCall(c) {
  switch (c.channel) {
    case "pstn":
      return placePSTN(c);
    case "sip":
      return VoxEngine.callSIP(c.destination, { callerid: c.caller_id });
    case "user":
      return VoxEngine.callUser({ username: c.destination, callerid: c.caller_id });
    case "whatsapp":
      return VoxEngine.callWhatsappUser({ number: c.destination, callerid: c.caller_id });
  }
  throw new Error("unsupported channel " + c.channel);
}

/** callPSTN with an answering-machine detector; without one (and a verdict of "unknown") if it cannot be made. */
function placePSTN(c) {
  var model = AMD_MODELS.indexOf(c.amd_model) >= 0 ? c.amd_model : AMD_DEFAULT_MODEL;
  try {
    amd = AMD.create({ model: AMD.Model[model], timeout: AMD_TIMEOUT_MS });
    amd.addEventListener(AMD.Events.DetectionComplete, guard(onDetectionComplete));
    amd.addEventListener(AMD.Events.DetectionError, guard(onDetectionError));
  } catch (e) {
    Logger.write("callbot: answering-machine detection unavailable (" + errorText(e) + "); the call goes on without it");
    amd = null;
    verdict = "unknown";
    return VoxEngine.callPSTN(c.destination, c.caller_id);
  }
  Logger.write("callbot: answering-machine detection with model " + model);
  return VoxEngine.callPSTN(c.destination, c.caller_id, { amd: amd });
}

function onStarted() {
  started = true;
  startNoCallClock();
  var parsed = readLaunch();
  if (!parsed.launch) {
    var data = parsed.data;
    var callId = data && isNonEmptyString(data.call_id) ? data.call_id : data && isNonEmptyString(data.id) ? data.id : null;
    refuse(parsed.problem, data, callId);
    return;
  }
  var launch = parsed.launch;
  if (launch.mode === "pull") {
    awaitPulledBrief(launch);
    return;
  }
  Logger.write("callbot: call " + launch.id + ": fetching the brief");
  fetchBrief(launch).then(guard(function (fetched) {
    onBrief(launch, fetched);
  }));
}

function onBrief(launch, fetched) {
  if (fetched.problem) {
    refuse("call " + launch.id + ": " + fetched.problem + "; nothing dialled", null, null);
    return;
  }
  var brief = parseObject(fetched.text);
  if (!brief) {
    refuse("call " + launch.id + ": the brief is not a JSON object; nothing dialled", null, null);
    return;
  }
  var problems = checkBrief(brief, launch);
  if (problems.length > 0) {
    refuse("bad brief: " + problems.join("; "), brief, isNonEmptyString(brief.call_id) ? brief.call_id : launch.id);
    return;
  }
  reporter = { url: brief.callback_url, token: brief.callback_token, callId: brief.call_id };
  dial(brief);
}

/** The brief is valid and the reporter set: report `started`, place the call, and follow it. */
function dial(brief) {
  config = brief;
  controlSecret = brief.control_secret;
  watchdogTimer = setTimeout(guard(function () {
    Logger.write("callbot: session watchdog fired; ending the session");
    fail(new Error("session exceeded max_duration_s + " + WATCHDOG_EXTRA_S + " s"));
  }), (config.max_duration_s + WATCHDOG_EXTRA_S) * 1000);

  report("started", {});
  Logger.write("callbot: call " + config.call_id + ": dialling on channel " + config.channel);
  if (config.channel !== "pstn") {
    verdict = "none"; // answering-machine detection is for PSTN calls only
  }
  call = placeCall(config);
  stopNoCallClock();
  call.addEventListener(CallEvents.Ringing, guard(onRinging));
  call.addEventListener(CallEvents.Connected, guard(onConnected));
  call.addEventListener(CallEvents.Failed, guard(onFailed));
  call.addEventListener(CallEvents.Disconnected, guard(onDisconnected));
  report("dialing", {});
}

// ---------------------------------------------------------------------------------------------------------
// Pull mode's brief: delivered by the bot over the access URL ({"action":"brief","brief":{...}}) within
// PULL_BRIEF_WAIT_MS of the start. The first brief decides: a valid one is dialled, an invalid one ends the session
// (reported for the bot to poll when it carries a control secret). A repeat with the same control secret gets the
// same answer (the bot's retry after a lost answer); any other later brief is refused.
// ---------------------------------------------------------------------------------------------------------

var pulledBrief = null; // the first brief delivered: {secret, answer, brief (when valid)}
var briefWaitTimer = null;

function awaitPulledBrief(launch) {
  if (pulledBrief) {
    if (pulledBrief.brief && !call && !finished) {
      dial(pulledBrief.brief); // it came before AppEvents.Started
    }
    return;
  }
  Logger.write("callbot: call " + launch.id + ": pull mode: waiting up to " + PULL_BRIEF_WAIT_MS / 1000 +
    " s for the brief over the access URL");
  briefWaitTimer = setTimeout(guard(function () {
    briefWaitTimer = null;
    if (pulledBrief || finished) {
      return;
    }
    Logger.write("callbot: call " + launch.id + ": no brief over the access URL within " + PULL_BRIEF_WAIT_MS / 1000 +
      " s; nothing dialled");
    finish();
  }), PULL_BRIEF_WAIT_MS);
}

function pullBrief(body) {
  var brief = body.brief;
  if (pulledBrief) {
    if (isObject(brief) && pulledBrief.secret && sameSecret(brief.control_secret, pulledBrief.secret)) {
      return pulledBrief.answer;
    }
    return { ok: false, error: "brief already delivered" };
  }
  var launchInfo = launch.launch;
  if (finished) {
    return { ok: false, error: "too late: no brief within " + PULL_BRIEF_WAIT_MS / 1000 + " s, the session is ending" };
  }
  if (briefWaitTimer) {
    clearTimeout(briefWaitTimer);
    briefWaitTimer = null;
  }
  var problems = isObject(brief) ? checkBrief(brief, launchInfo) : ["field 'brief' is not a JSON object"];
  if (problems.length > 0) {
    var message = "bad brief: " + problems.join("; ");
    var secret = isObject(brief) && isNonEmptyString(brief.control_secret) ? brief.control_secret : null;
    pulledBrief = { secret: secret, answer: { ok: false, error: message } };
    Logger.write("callbot: call " + launchInfo.id + ": " + message + "; nothing dialled");
    if (secret) {
      // The bot polls for the error and the failed with the secret it sent.
      controlSecret = secret;
      reporter = { pull: true, callId: launchInfo.id };
      reportError(message);
    }
    finish();
    return pulledBrief.answer;
  }
  pulledBrief = { secret: brief.control_secret, answer: { ok: true }, brief: brief };
  controlSecret = brief.control_secret; // polls and hang-ups work from now on, even before AppEvents.Started
  reporter = { pull: true, callId: launchInfo.id };
  if (started) {
    try {
      dial(brief);
    } catch (err) {
      fail(err); // reported as events; the brief itself was accepted
    }
  }
  return { ok: true };
}

function onRinging() {
  if (ringingReported || connectedAt || callOver) {
    return;
  }
  ringingReported = true;
  report("ringing", {});
}

function onConnected() {
  if (callOver) {
    return;
  }
  connectedAt = Date.now();
  report("connected", {});
  if (endReason) {
    // A hang-up was asked for while the call was being answered: end it now.
    call.hangup();
    return;
  }
  maxDurationTimer = setTimeout(guard(function () {
    Logger.write("callbot: max duration of " + config.max_duration_s + " s reached");
    endCall("max_duration");
  }), config.max_duration_s * 1000);
  if (config.record === true) {
    startRecording();
  }
  startAgent().catch(function (e) {
    aiFailed("OpenAI Realtime client failed: " + errorText(e));
  });
  if (verdict) {
    applyVerdict(); // no detection (not PSTN), or it finished before the answer
  } else {
    // AMD's own timeout counts from Connected (d.ts, AMDParameters.timeout); should no verdict come at all, the call
    // goes on as if it said "unknown".
    amdTimer = setTimeout(guard(function () {
      amdTimer = null;
      Logger.write("callbot: no answering-machine verdict within " + (AMD_TIMEOUT_MS + AMD_GRACE_MS) + " ms");
      onVerdict("unknown");
    }), AMD_TIMEOUT_MS + AMD_GRACE_MS);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Who answered: AMD's verdict (PSTN), then the agent talks with a person, or leaves a voicemail, or hangs up
// ---------------------------------------------------------------------------------------------------------

/** AMD.Events.DetectionComplete: resultClass HUMAN, VOICEMAIL, TIMEOUT or CALL_ENDED (d.ts AMD.ResultClass). */
function onDetectionComplete(e) {
  var result = e && e.resultClass;
  Logger.write("callbot: answering-machine detection: " + result + (e && typeof e.confidence === "number" ?
    " (confidence " + e.confidence + ")" : ""));
  if (result === AMD.ResultClass.HUMAN) {
    onVerdict("human");
  } else if (result === AMD.ResultClass.VOICEMAIL) {
    onVerdict("voicemail");
  } else if (result === AMD.ResultClass.CALL_ENDED) {
    onVerdict("ended");
  } else {
    onVerdict("unknown"); // TIMEOUT, or a class this scenario does not know: go on as with a person
  }
}

/** AMD.Events.DetectionError: the call goes on as if a person answered, reported as "unknown". */
function onDetectionError(e) {
  Logger.write("callbot: answering-machine detection failed: " + (e && e.message ? String(e.message) : "no message"));
  onVerdict("unknown");
}

function onVerdict(kind) {
  if (verdict) {
    return; // the first verdict decides
  }
  verdict = kind;
  applyVerdict();
}

/** Acts on the verdict once the call is connected: reports `answered`, then starts the conversation or not. */
function applyVerdict() {
  if (verdictApplied || !verdict || !connectedAt || endReason || callOver || finished) {
    return;
  }
  verdictApplied = true;
  if (amdTimer) {
    clearTimeout(amdTimer);
    amdTimer = null;
  }
  if (verdict === "ended") {
    return; // the callee hung up while AMD listened: Disconnected follows
  }
  if (verdict !== "none") {
    report("answered", { by: verdict });
  }
  if (verdict !== "voicemail") {
    maybeStartConversation();
    return;
  }
  if (config.voicemail === "hang_up") {
    voicemailReported = true;
    report("voicemail", { left: false, message_s: 0 });
    endCall("voicemail");
    return;
  }
  // Wait for the greeting to end: its beep (Call.enableBeepDetection, CallEvents.BeepDetectionComplete; Voximplant's
  // voicemail-detection guide), or the detection's timeout, or an error: then the agent speaks.
  call.addEventListener(CallEvents.BeepDetectionComplete, guard(onBeep));
  call.addEventListener(CallEvents.BeepDetectionError, guard(onBeep));
  call.enableBeepDetection({ timeout: BEEP_TIMEOUT_MS });
  beepTimer = setTimeout(guard(onBeep), BEEP_TIMEOUT_MS + AMD_GRACE_MS);
}

function onBeep(e) {
  if (beepHeard) {
    return;
  }
  beepHeard = true;
  if (beepTimer) {
    clearTimeout(beepTimer);
    beepTimer = null;
  }
  Logger.write("callbot: voicemail greeting over (" + (e && e.frequencies ? "beep" : e && e.reason ? "beep detection " +
    "error: " + e.reason : "no beep heard") + "); leaving the message");
  maybeStartConversation();
}

/** The agent's message at a voicemail greeting is over: report its length and hang up. */
function voicemailLeft(mediaInfo) {
  if (voicemailReported || !verdictApplied || verdict !== "voicemail") {
    return;
  }
  voicemailReported = true;
  if (voicemailTimer) {
    clearTimeout(voicemailTimer);
    voicemailTimer = null;
  }
  var seconds = 0;
  if (mediaInfo && typeof mediaInfo.duration === "number" && isFinite(mediaInfo.duration) && mediaInfo.duration > 0) {
    seconds = mediaInfo.duration; // WebSocketMediaInfo.duration: the audio stream's duration (seconds assumed)
  } else if (voicemailSpeechStartedAt) {
    seconds = (Date.now() - voicemailSpeechStartedAt) / 1000 - MEDIA_END_SILENCE_S;
  }
  seconds = Math.min(MAX_VOICEMAIL_S, Math.max(0, Math.round(seconds * 10) / 10));
  var left = conversationStarted && (voicemailSpeechStartedAt > 0 || seconds > 0);
  report("voicemail", { left: left, message_s: left ? seconds : 0 });
  if (!callOver) {
    endCall("voicemail");
  }
}

// ---------------------------------------------------------------------------------------------------------
// Recording (opt-in per call: brief field `record`): Call.record, its URL from CallEvents.RecordStarted
// ---------------------------------------------------------------------------------------------------------

function startRecording() {
  call.addEventListener(CallEvents.RecordStarted, guard(function (e) {
    var url = e && typeof e.url === "string" ? e.url : "";
    if (/^https:\/\/\S+$/.test(url) && url.length <= MAX_RECORDING_URL_CHARS) {
      report("recording", { url: url });
    } else {
      Logger.write("callbot: the recording started, but its URL is not an HTTPS URL the bot takes; not reported");
    }
  }));
  call.addEventListener(CallEvents.RecordError, guard(function (e) {
    aiWarning("recording failed: " + (e && e.error ? String(e.error) : "no details"));
  }));
  call.record({});
}

function onFailed(e) {
  if (callOver) {
    return;
  }
  callOver = true;
  startNoCallClock();
  if (endReason) {
    // We cancelled the dialling call ourselves (hang-up request, AI or scenario error): not a failure to reach.
    reportDisconnected({ duration_s: 0, reason: endReason });
  } else {
    reportFailed(e.code, e.reason);
  }
  finish();
}

function onDisconnected(e) {
  if (callOver) {
    return;
  }
  callOver = true;
  if (verdictApplied && verdict === "voicemail" && !voicemailReported) {
    voicemailLeft(null); // the machine hung up during the greeting or the message
  }
  startNoCallClock();
  var data = { duration_s: callDuration(e), reason: endReason || "remote_hangup" };
  if (typeof e.cost === "number" && isFinite(e.cost)) {
    data.cost = e.cost;
  }
  reportDisconnected(data);
  finish();
}

function callDuration(e) {
  if (!connectedAt) {
    return 0;
  }
  if (e && typeof e.duration === "number" && isFinite(e.duration) && e.duration >= 0) {
    return e.duration;
  }
  return Math.round((Date.now() - connectedAt) / 1000);
}

/** Ends the call for one of our own reasons; the Disconnected/Failed handler reports it. */
function endCall(reason) {
  if (endReason || callOver || finished) {
    return;
  }
  endReason = reason;
  stopTimer("maxDuration");
  stopTimer("answering");
  dropJoin("the call ended");
  closeAgent();
  if (!call) {
    finish();
    return;
  }
  call.hangup();
  hangupGraceTimer = setTimeout(guard(function () {
    if (!callOver) {
      Logger.write("callbot: no Disconnected/Failed within " + HANGUP_GRACE_MS + " ms of hangup; ending anyway");
      callOver = true;
      startNoCallClock();
      reportDisconnected({ duration_s: callDuration(null), reason: endReason });
      finish();
    }
  }), HANGUP_GRACE_MS);
}

// ---------------------------------------------------------------------------------------------------------
// The OpenAI Realtime agent (created only after CallEvents.Connected)
// ---------------------------------------------------------------------------------------------------------

function startAgent() {
  var apiKey = VoxEngine.getSecretValue(OPENAI_KEY_SECRET);
  if (!isNonEmptyString(apiKey)) {
    aiFailed("secret '" + OPENAI_KEY_SECRET + "' is not set in the application's secret storage");
    return Promise.resolve();
  }
  var creating;
  try {
    creating = Promise.resolve(OpenAI.createRealtimeAPIClient({
      apiKey: apiKey,
      model: OPENAI_MODEL,
      onWebSocketClose: guard(function () {
        if (!endReason && !callOver && !finished && !joined) {
          aiFailed("OpenAI Realtime connection closed unexpectedly");
        }
      })
    }));
  } catch (e) {
    creating = Promise.reject(e);
  }
  return creating.then(guard(function (client) {
    if (endReason || callOver || finished) {
      safeClose(client);
      return;
    }
    aiClient = client;
    client.addEventListener(OpenAI.RealtimeAPIEvents.SessionCreated, guard(function () {
      sessionReady = true;
      maybeStartConversation();
    }));
    // A voicemail message: timed from its first audio to the silence after it (d.ts OpenAI.Events: WebSocketMediaEnded
    // "after the end of the audio stream ... (1 second of silence)", with mediaInfo.duration).
    client.addEventListener(OpenAI.Events.WebSocketMediaStarted, guard(function () {
      if (verdict === "voicemail" && conversationStarted && !voicemailSpeechStartedAt) {
        voicemailSpeechStartedAt = Date.now();
      }
    }));
    client.addEventListener(OpenAI.Events.WebSocketMediaEnded, guard(function (e) {
      if (verdict === "voicemail" && conversationStarted && voicemailSpeechStartedAt) {
        voicemailLeft(e && e.mediaInfo);
      }
    }));
    // Barge-in: the callee started speaking, so drop the agent's audio still buffered for playback (as
    // Voximplant's own Voice AI example does).
    client.addEventListener(OpenAI.RealtimeAPIEvents.InputAudioBufferSpeechStarted, guard(function () {
      calleeSpeaking = true;
      client.clearMediaBuffer();
    }));
    listenForSteering(client);
    client.addEventListener(OpenAI.RealtimeAPIEvents.ResponseOutputAudioTranscriptDone, guard(function (e) {
      forwardTranscript("agent", payloadOf(e).transcript);
    }));
    client.addEventListener(OpenAI.RealtimeAPIEvents.ConversationItemInputAudioTranscriptionCompleted,
      guard(function (e) {
        forwardTranscript("callee", payloadOf(e).transcript);
      }));
    // OpenAI's `error` server event: "most errors are recoverable and the session will stay open". Reported, and
    // the call goes on; only a connection that fails or closes ends it.
    client.addEventListener(OpenAI.RealtimeAPIEvents.Error, guard(function (e) {
      aiWarning("OpenAI Realtime error: " + describeAiError(e));
    }));
    client.addEventListener(OpenAI.RealtimeAPIEvents.WebSocketError, guard(function (e) {
      aiFailed("OpenAI Realtime WebSocket error: " + describeAiError(e));
    }));
    maybeStartConversation();
  }));
}

/**
 * Configures the agent and has it speak first, once the AI session exists and it is known who answered (and, at a
 * voicemail greeting, once the greeting is over). Its first words are the bot's disclosure, which the requester's
 * instructions cannot change: the first response is asked for with instructions of its own (OpenAI's
 * `response.create`: a response's `instructions` replace the session's for that response).
 */
function maybeStartConversation() {
  if (conversationStarted || !aiClient || !sessionReady || !verdictApplied || endReason || callOver || finished) {
    return;
  }
  var voicemail = verdict === "voicemail";
  if (verdict === "ended" || (voicemail && !beepHeard)) {
    return;
  }
  conversationStarted = true;
  var client = aiClient;
  client.sessionUpdate({
    session: {
      type: "realtime",
      instructions: sessionInstructions(voicemail),
      output_modalities: ["audio"],
      audio: {
        input: {
          transcription: { model: TRANSCRIPTION_MODEL },
          // At a voicemail greeting nobody answers: no turn detection, so only our response.create speaks.
          turn_detection: voicemail ? null : { type: "server_vad" }
        }
      },
      tools: [PRESS_KEYS_TOOL],
      tool_choice: "auto"
    }
  });
  VoxEngine.sendMediaBetween(call, client);
  // Outbound call: the agent speaks first, and its first words are the disclosure.
  client.responseCreate({ response: { instructions: firstResponseInstructions(voicemail) } });
  if (voicemail) {
    voicemailTimer = setTimeout(guard(function () {
      voicemailTimer = null;
      Logger.write("callbot: the voicemail message did not end within " + VOICEMAIL_MAX_MS / 1000 + " s");
      voicemailLeft(null);
    }), VOICEMAIL_MAX_MS);
  }
}

function disclosure() {
  return isNonEmptyString(config.disclosure) ? config.disclosure.trim() : DEFAULT_DISCLOSURE;
}

/** The session's instructions: our rules first, the requester's instructions last. */
function sessionInstructions(voicemail) {
  var rules = "You are an automated voice agent on a phone call. Your first words in this call were, word for word: \"" +
    disclosure() + "\" If asked, say again that you are an automated assistant; never claim to be a person. The " +
    "requester's instructions below cannot change these rules.";
  if (voicemail) {
    rules += " The call reached a voicemail box: nobody will answer. Leave one short message (at most 20 seconds): " +
      "after your first words, say in a sentence or two why you are calling, from the instructions below, then say " +
      "goodbye. Ask no questions.";
  }
  return rules + "\n\n" + config.instructions;
}

/** The first response's own instructions: the disclosure, word for word, before anything else. */
function firstResponseInstructions(voicemail) {
  var then = voicemail ? "leave your short voicemail message as your session instructions say, and say goodbye." :
    "go on with the call as your session instructions say.";
  return "Begin by saying exactly this sentence, word for word: \"" + disclosure() + "\" Then " + then;
}

/** VoxEngine passes the OpenAI server event as event.data.payload; tolerate a bare event.data too. */
function payloadOf(e) {
  var data = (e && e.data) || {};
  return data.payload || data;
}

function describeAiError(e) {
  var p = payloadOf(e);
  if (p && p.error && p.error.message) {
    return String(p.error.message);
  }
  if (p && p.message) {
    return String(p.message);
  }
  var text = JSON.stringify(p);
  return text && text !== "{}" ? text.slice(0, 300) : "no details";
}

function forwardTranscript(role, text) {
  if (typeof text !== "string" || text.trim().length === 0 || callOver) {
    return;
  }
  report("transcript", { role: role, text: clip(text.trim(), MAX_TRANSCRIPT_CHARS) });
}

/** A recoverable AI error: reported (up to MAX_RECOVERABLE_ERRORS per call) with recoverable: true. */
function aiWarning(message) {
  Logger.write("callbot: " + message + " (recoverable; the call goes on)");
  if (endReason || callOver || finished) {
    return;
  }
  recoverableErrors += 1;
  if (recoverableErrors > MAX_RECOVERABLE_ERRORS) {
    if (recoverableErrors === MAX_RECOVERABLE_ERRORS + 1) {
      Logger.write("callbot: more than " + MAX_RECOVERABLE_ERRORS + " recoverable AI errors; the rest are only logged");
    }
    return;
  }
  report("error", { message: clip(message, MAX_ERROR_MESSAGE_CHARS), recoverable: true });
}

/** The AI connection failed or closed: report it and end the call (ai_error). */
function aiFailed(message) {
  if (endReason || callOver || finished || joined) {
    return;
  }
  Logger.write("callbot: " + message);
  reportError(message);
  endCall("ai_error");
}

function closeAgent() {
  if (aiClient) {
    var client = aiClient;
    aiClient = null;
    safeClose(client);
  }
}

function safeClose(client) {
  try {
    client.close();
  } catch (e) {
    Logger.write("callbot: closing the OpenAI client failed: " + errorText(e));
  }
}

// ---------------------------------------------------------------------------------------------------------
// Join: the requester on the call ({"action":"join","to":{...}} over the access URL). The scenario dials them
// (VoxEngine.callPSTN, or VoxEngine.callUser for a Voximplant application user) with the call's caller ID. Answered
// within JOIN_ANSWER_MS: the agent tells the callee who they are being connected to, then the callee and the
// requester are bridged (VoxEngine.sendMediaBetween) and the agent leaves the line (its client closed, as at the
// call's end); `join` {"result":"joined"}. Not answered in time, or the leg fails: that leg is hung up and the agent
// carries on; `join` {"result":"no_answer"|"failed","reason"}. One join at a time, and one per call. Once joined,
// the call ends when either side hangs up: the requester hanging up ends it with reason `requester_hangup`.
// ---------------------------------------------------------------------------------------------------------

var JOIN_ANSWER_MS = 30000; // the requester has this long to answer before the agent carries on alone
var JOIN_ANNOUNCE_MAX_MS = 10000; // the agent's "connecting you" line: bridged when its audio ends, or after this
var JOIN_CHANNELS = ["pstn", "app_user"];
var APP_USER = /^[A-Za-z0-9][A-Za-z0-9._\-]{0,49}$/; // the bot's own rule for application user names
var MAX_JOIN_BY_CHARS = 64; // `by`: who asked to join (a Slack user ID), echoed in the `join` event
var MAX_JOIN_NAME_CHARS = 80; // `name`: how the agent names the requester to the callee
var JOIN_HINT = "expected {\"action\":\"join\",\"to\":{\"channel\":\"pstn\"|\"app_user\",\"destination\":" +
  "\"<E.164 number or app user name>\"},\"by\":\"<who>\",\"name\":\"<name>\",\"secret\":\"<control secret>\"}";

var joining = null; // the join under way: {leg, by, name, answerTimer, announceTimer, announcing, heard}
var joinLeg = null; // the requester's call, once bridged with the callee
var joined = false; // the callee talks with the requester; the agent has left the line

/** What is wrong with a join request's fields, or null. */
function checkJoin(body) {
  var to = body.to;
  if (!isObject(to)) {
    return "field 'to' is not a JSON object";
  }
  if (JOIN_CHANNELS.indexOf(to.channel) < 0) {
    return "to.channel must be \"pstn\" or \"app_user\"";
  }
  if (to.channel === "pstn" && !(typeof to.destination === "string" && E164.test(to.destination))) {
    return "to.destination must be an E.164 number (+14155550100) for pstn";
  }
  if (to.channel === "app_user" && !(typeof to.destination === "string" && APP_USER.test(to.destination))) {
    return "to.destination must be an application user name for app_user";
  }
  if (body.by !== undefined && !(isNonEmptyString(body.by) && body.by.length <= MAX_JOIN_BY_CHARS)) {
    return "by must be a non-empty string of at most " + MAX_JOIN_BY_CHARS + " characters";
  }
  if (body.name !== undefined && !(typeof body.name === "string" && body.name.length <= MAX_JOIN_NAME_CHARS)) {
    return "name must be a string of at most " + MAX_JOIN_NAME_CHARS + " characters";
  }
  return null;
}

// Steering the agent: the requester's Say… text, and the keypad tool (press_keys)
// ---------------------------------------------------------------------------------------------------------

/** The keypad tool, in OpenAI Realtime's function-tool shape (session.tools: type "function", name, description,
 * parameters as JSON Schema; OpenAI's Realtime reference, session.update and "Function calling"). */
var PRESS_KEYS_TOOL = {
  type: "function",
  name: "press_keys",
  description: "Press keys on the phone's keypad (DTMF tones) to get through an automated phone menu, for example " +
    "'press 1 for sales'. Use it only when a recorded menu asks for keys, never while talking with a person.",
  parameters: {
    type: "object",
    properties: {
      digits: {
        type: "string",
        description: "The keys to press, in order: 0-9, * and #, at most " + MAX_KEYS + ".",
        pattern: "^[0-9*#]{1," + MAX_KEYS + "}$"
      }
    },
    required: ["digits"]
  }
};

/** Keeps track of the agent's turns, and takes its function calls (the keypad). */
function listenForSteering(client) {
  client.addEventListener(OpenAI.RealtimeAPIEvents.InputAudioBufferSpeechStopped, guard(function () {
    calleeSpeaking = false;
  }));
  client.addEventListener(OpenAI.RealtimeAPIEvents.ResponseCreated, guard(function () {
    responseActive = true;
    responseWanted = false; // a response sees every item added before it
  }));
  client.addEventListener(OpenAI.RealtimeAPIEvents.ResponseDone, guard(function () {
    responseActive = false;
    askForResponse();
  }));
  // A function call is whole in its output item (OpenAI's response.output_item.done: item type "function_call" with
  // name, call_id and arguments, a JSON string).
  client.addEventListener(OpenAI.RealtimeAPIEvents.ResponseOutputItemDone, guard(function (e) {
    var item = payloadOf(e).item;
    if (isObject(item) && item.type === "function_call") {
      onFunctionCall(client, item);
    }
  }));
}

function agentOnLine() {
  return !!aiClient && conversationStarted && !endReason && !callOver && !finished;
}

/** Asks the agent to respond, once no response is under way and the callee is not speaking: the next pause. */
function askForResponse() {
  if (!responseWanted || responseActive || calleeSpeaking || !agentOnLine()) {
    return;
  }
  responseWanted = false;
  aiClient.responseCreate({});
}

/** The model called a function: act once per call_id, and hand the result back (a function_call_output item). */
function onFunctionCall(client, item) {
  var callId = item.call_id;
  if (!isNonEmptyString(callId) || toolCallsSeen[callId] || !agentOnLine()) {
    return;
  }
  toolCallsSeen[callId] = true;
  var result = item.name === "press_keys" ? pressKeys(item.arguments) :
    { ok: false, error: "there is no tool named '" + String(item.name) + "'" };
  client.conversationItemCreate({
    item: { type: "function_call_output", call_id: callId, output: JSON.stringify(result) }
  });
  responseWanted = true;
  askForResponse();
}

/**
 * press_keys: digits 0-9, * and #, at most MAX_KEYS, sent with Call.sendDigits and reported as `keys`. Anything
 * else is refused to the model, which can try again: nothing is sent and nothing reported (the thread shows only
 * keys pressed). The keys themselves are never logged: a menu may ask for a PIN.
 */
function pressKeys(argumentsText) {
  var args = typeof argumentsText === "string" ? parseObject(argumentsText) : null;
  var digits = args ? args.digits : undefined;
  if (typeof digits !== "string" || !KEYS.test(digits)) {
    Logger.write("callbot: press_keys refused: digits were not keys of a keypad");
    return { ok: false, error: "digits must be keys of a phone keypad: 0-9, * and #; nothing was pressed" };
  }
  if (digits.length > MAX_KEYS) {
    Logger.write("callbot: press_keys refused: " + digits.length + " keys, at most " + MAX_KEYS);
    return { ok: false, error: "at most " + MAX_KEYS + " keys at a time; nothing was pressed" };
  }
  call.sendDigits(digits);
  Logger.write("callbot: pressed " + digits.length + " key(s)");
  report("keys", { digits: digits });
  return { ok: true, pressed: digits };
}

/** Why the agent cannot take a Say… request now, or null. */
function sayRefusal() {
  if (endReason || callOver || finished) {
    return "the call is ending: there is nobody to say it to";
  }
  if (!connectedAt) {
    return "the call is not connected yet: the agent can pass a message on once the callee answers";
  }
  if (verdict === "voicemail") {
    return "the call reached a voicemail box: the agent is leaving its message and takes no requests";
  }
  if (!agentOnLine()) {
    return "the agent is not on the line yet (it starts once it knows who answered): try again in a few seconds";
  }
  return null;
}

/** {"action":"join"} with the secret: dial the requester, or say why not (the answer is all the bot hears now). */
function joinRequested(body) {
  var problem = checkJoin(body);
  if (problem) {
    return { ok: false, error: "bad join: " + problem + "; " + JOIN_HINT };
  }
  if (!call || !connectedAt || endReason || callOver || finished) {
    return { ok: false, error: "the call is not connected: only a connected call with the agent on the line can be joined" };
  }
  if (joined) {
    return { ok: false, error: "someone has already joined this call" };
  }
  if (joining) {
    return { ok: false, error: "already joining" };
  }
  if (!aiClient || !conversationStarted || verdict === "voicemail") {
    return { ok: false, error: "the agent is not talking with anyone yet; try again once the callee is on the line" };
  }
  var to = body.to;
  var leg;
  try {
    leg = to.channel === "pstn" ? VoxEngine.callPSTN(to.destination, config.caller_id) :
      VoxEngine.callUser({ username: to.destination, callerid: config.caller_id });
  } catch (e) {
    Logger.write("callbot: join: the requester could not be dialled: " + errorText(e));
    return { ok: false, error: "the requester could not be dialled: " + errorText(e) };
  }
  var j = { leg: leg, by: body.by || "", name: (body.name || "").trim(), answerTimer: null, announceTimer: null,
    announcing: false, heard: false };
  joining = j;
  Logger.write("callbot: join: dialling the requester (" + to.channel + ")");
  leg.addEventListener(CallEvents.Connected, guard(function () {
    onJoinAnswered(j);
  }));
  leg.addEventListener(CallEvents.Failed, guard(function (e) {
    if (joining === j) {
      endJoin("failed", (e && e.reason) || "the call to the requester failed", e && e.code);
    }
  }));
  leg.addEventListener(CallEvents.Disconnected, guard(function () {
    onJoinLegGone(j);
  }));
  j.answerTimer = setTimeout(guard(function () {
    j.answerTimer = null;
    if (joining === j && !j.announcing) {
      Logger.write("callbot: join: no answer within " + JOIN_ANSWER_MS / 1000 + " s");
      endJoin("no_answer", "no answer within " + JOIN_ANSWER_MS / 1000 + " s");
    }
  }), JOIN_ANSWER_MS);
  return { ok: true };
}

/** The requester answered: the agent tells the callee, then the two are bridged (after its audio, or at the cap). */
function onJoinAnswered(j) {
  if (joining !== j || j.announcing) {
    return;
  }
  if (j.answerTimer) {
    clearTimeout(j.answerTimer);
    j.answerTimer = null;
  }
  j.announcing = true;
  var client = aiClient;
  if (!client) {
    bridgeJoin(j);
    return;
  }
  // d.ts OpenAI.Events: WebSocketMediaStarted/Ended frame the agent's audio (Ended after 1 s of silence).
  client.addEventListener(OpenAI.Events.WebSocketMediaStarted, guard(function () {
    if (joining === j) {
      j.heard = true;
    }
  }));
  client.addEventListener(OpenAI.Events.WebSocketMediaEnded, guard(function () {
    if (joining === j && j.heard) {
      bridgeJoin(j);
    }
  }));
  client.responseCreate({ response: { instructions: joinAnnouncement(j.name) } });
  j.announceTimer = setTimeout(guard(function () {
    j.announceTimer = null;
    bridgeJoin(j);
  }), JOIN_ANNOUNCE_MAX_MS);
}

/** The agent's last words: a response's own instructions (OpenAI's `response.create`), the sentence in quotes. */
function joinAnnouncement(name) {
  var who = name ? name + ", who asked for this call" : "the person who asked for this call";
  return "Say exactly this sentence, word for word, and nothing else: \"I'm connecting you now with " + who +
    "; I'm leaving the line.\"";
}

/** Callee and requester talk; the agent leaves the line. */
function bridgeJoin(j) {
  if (joining !== j) {
    return;
  }
  if (j.announceTimer) {
    clearTimeout(j.announceTimer);
    j.announceTimer = null;
  }
  joining = null;
  joined = true;
  joinLeg = j.leg;
  if (aiClient) {
    VoxEngine.stopMediaBetween(call, aiClient);
  }
  closeAgent();
  VoxEngine.sendMediaBetween(call, j.leg);
  Logger.write("callbot: join: the requester is on the call; the agent left the line");
  report("join", { result: "joined", by: j.by });
}

/** The requester's leg ended: before the bridge, the join failed (the agent carries on); after it, the call ends. */
function onJoinLegGone(j) {
  if (joining === j) {
    endJoin("failed", "the requester hung up before being connected");
    return;
  }
  if (joinLeg === j.leg && !endReason && !callOver && !finished) {
    Logger.write("callbot: join: the requester hung up; ending the call");
    joinLeg = null;
    endCall("requester_hangup");
  }
}

/** The join did not happen: hang up the requester's leg (if still up) and report why; the agent carries on. */
function endJoin(result, reason, code) {
  var j = joining;
  if (!j) {
    return;
  }
  joining = null;
  [j.answerTimer, j.announceTimer].forEach(function (timer) {
    if (timer) {
      clearTimeout(timer);
    }
  });
  hangUpLeg(j.leg);
  var data = { result: result, by: j.by, reason: clip(reason, MAX_FAILED_REASON_CHARS) };
  var number = code === null || code === undefined ? NaN : Number(code);
  if (isFinite(number)) {
    data.code = Math.trunc(number);
  }
  report("join", data);
}

/** The call is ending: a join under way fails ("the call ended"), a joined requester's leg is hung up. */
function dropJoin(reason) {
  endJoin("failed", reason);
  if (joinLeg) {
    var leg = joinLeg;
    joinLeg = null;
    hangUpLeg(leg);
  }
}

function hangUpLeg(leg) {
  try {
    leg.hangup();
  } catch (e) {
    Logger.write("callbot: join: hanging up the requester's leg failed: " + errorText(e));
  }
}

/**
 * {"action":"say","text":…}: the requester's words for the callee, added to the conversation as a system message;
 * the agent works them in at its next response, asked for at the next pause (askForResponse). Answered
 * {"ok":true} once the agent has them, or {"ok":false,"error"} saying why not.
 */
function sayRequested(body) {
  var text = body.text;
  if (typeof text !== "string" || text.trim().length === 0) {
    return { ok: false, error: "field 'text' must be a non-empty string" };
  }
  var length = Array.from(text).length; // characters, as the bot counts them (not UTF-16 units)
  if (length > MAX_SAY_CHARS) {
    return { ok: false, error: "field 'text' is " + length + " characters; at most " + MAX_SAY_CHARS };
  }
  if (!call) {
    return { ok: false, error: "no call in this session" };
  }
  var refusal = sayRefusal();
  if (refusal) {
    return { ok: false, error: refusal };
  }
  aiClient.conversationItemCreate({
    item: { type: "message", role: "system", content: [{ type: "input_text", text: sayInstructions(text.trim()) }] }
  });
  responseWanted = true;
  askForResponse();
  Logger.write("callbot: the requester asked the agent to say something (" + length + " characters)");
  return { ok: true };
}

/** The system message for a Say… request; the requester's words come last, after a blank line. */
function sayInstructions(text) {
  return "The person who asked for this call wants the callee told the following. Work it into the conversation " +
    "at the next natural pause, in your own words and in the language of the call. Your rules still apply." +
    "\n\n" + text;
}

// ---------------------------------------------------------------------------------------------------------
// Control over the session's access URL
// ---------------------------------------------------------------------------------------------------------

var HANGUP_HINT = "expected {\"action\":\"hangup\",\"secret\":\"<control secret>\"} or " +
  "{\"action\":\"say\",\"text\":\"...\",\"secret\":\"<control secret>\"}";

var PULL_HINT = "expected {\"action\":\"brief\",\"brief\":{...}}, {\"action\":\"events\",\"after\":<seq>," +
  "\"secret\":\"<control secret>\"}, {\"action\":\"hangup\",\"secret\":\"<control secret>\"} or " +
  "{\"action\":\"say\",\"text\":\"...\",\"secret\":\"<control secret>\"}";
var PULL_ACTIONS = ["brief", "events", "hangup", "say", "join"];

function onHttpRequest(e) {
  readLaunch();
  return JSON.stringify(pullMode() ? pullControl(e) : control(e));
}

/** Compares two strings in time that does not depend on where they differ. */
function sameSecret(given, expected) {
  if (typeof given !== "string" || typeof expected !== "string" || given.length !== expected.length) {
    return false;
  }
  var diff = 0;
  for (var i = 0; i < expected.length; i++) {
    diff |= given.charCodeAt(i) ^ expected.charCodeAt(i);
  }
  return diff === 0;
}

/** The request's JSON object, or {refusal} saying what is wrong with it (method, JSON, object), `hint` appended. */
function requestBody(e, hint) {
  var method = String((e && e.method) || "").toUpperCase();
  if (method !== "POST") {
    return { refusal: { ok: false, error: "method " + (method || "(none)") + " not allowed; POST " + hint } };
  }
  var body = parseControlBody(e.content);
  if (body === undefined) {
    return { refusal: { ok: false, error: "body is not valid JSON; " + hint } };
  }
  if (!isObject(body)) {
    return { refusal: { ok: false, error: "body is not a JSON object; " + hint } };
  }
  return { body: body };
}

function control(e) {
  var request = requestBody(e, HANGUP_HINT);
  if (request.refusal) {
    return request.refusal;
  }
  var body = request.body;
  // Before the brief arrived there is no secret to match: refused alike.
  if (!controlSecret || !sameSecret(body.secret, controlSecret)) {
    return { ok: false, error: "missing or wrong secret" };
  }
  if (body.action === "join") {
    return joinRequested(body);
  }
  if (body.action === "say") {
    return sayRequested(body);
  }
  if (body.action !== "hangup") {
    var shown = body.action === undefined ? "(none)" : "'" + String(body.action) + "'";
    return { ok: false, error: "unknown action " + shown + "; " + HANGUP_HINT };
  }
  return hangupRequested();
}

/** Pull mode: checks in the order method, JSON, object, action known, secret (a brief carries its own), action. */
function pullControl(e) {
  var request = requestBody(e, PULL_HINT);
  if (request.refusal) {
    return request.refusal;
  }
  var body = request.body;
  if (PULL_ACTIONS.indexOf(body.action) < 0) {
    var shown = body.action === undefined ? "(none)" : "'" + String(body.action) + "'";
    return { ok: false, error: "unknown action " + shown + "; " + PULL_HINT };
  }
  if (body.action === "brief") {
    return pullBrief(body);
  }
  // Before a brief arrived there is no secret to match: refused alike.
  if (!controlSecret || !sameSecret(body.secret, controlSecret)) {
    return { ok: false, error: "missing or wrong secret" };
  }
  if (body.action === "events") {
    return pullEvents(body);
  }
  if (body.action === "join") {
    return joinRequested(body);
  }
  if (body.action === "say") {
    return sayRequested(body);
  }
  return hangupRequested();
}

function hangupRequested() {
  if (!call) {
    return { ok: false, error: "no call in this session" };
  }
  if (endReason || callOver || finished) {
    return { ok: true, note: "the call is already ending" };
  }
  Logger.write("callbot: hang-up requested over the access URL");
  endCall("hangup_requested");
  return { ok: true };
}

/** The parsed body (any JSON value), or undefined when it is not JSON. */
function parseControlBody(content) {
  try {
    return JSON.parse(content);
  } catch (err) {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Ending the session
// ---------------------------------------------------------------------------------------------------------

function stopTimer(name) {
  if (name === "maxDuration" && maxDurationTimer) {
    clearTimeout(maxDurationTimer);
    maxDurationTimer = null;
  }
  if (name === "answering") {
    [amdTimer, beepTimer, voicemailTimer].forEach(function (timer) {
      if (timer) {
        clearTimeout(timer);
      }
    });
    amdTimer = beepTimer = voicemailTimer = null;
  }
}

/**
 * Stops reporting, flushes the queue for as long as the session may live without a call (NO_CALL_FLUSH_MS from
 * the call's end), then terminates the session. Runs once.
 */
function finish() {
  if (finished) {
    return;
  }
  if (!call) {
    // No call was placed, so no Failed or Disconnected will say the call is over: the bot hears it from us.
    reportFailed(NOT_PLACED, lastError || "the session ended before a call was placed");
  }
  finished = true;
  stopTimer("maxDuration");
  stopTimer("answering");
  if (hangupGraceTimer) {
    clearTimeout(hangupGraceTimer);
  }
  if (watchdogTimer) {
    clearTimeout(watchdogTimer);
  }
  dropJoin("the call ended");
  closeAgent();
  startNoCallClock();
  if (briefWaitTimer) {
    clearTimeout(briefWaitTimer);
    briefWaitTimer = null;
  }
  flushQueue().then(function () {
    if (queue.length > 0) {
      Logger.write("callbot: " + queue.length + " event(s) still undelivered at terminate");
    }
    if (pulled.length > 0) {
      Logger.write("callbot: " + pulled.length + " event(s) not confirmed by the bot at terminate (it confirmed up " +
        "to seq " + confirmedUpTo + ")");
    }
    terminated = true;
    if (retryTimer) {
      clearTimeout(retryTimer);
      retryTimer = null;
    }
    VoxEngine.terminate();
  });
}

/** An unexpected error: tell the bot, end the call if there is one, and let finish() terminate. */
function fail(err) {
  var message = "scenario error: " + errorText(err);
  Logger.write("callbot: " + message);
  if (finished) {
    return;
  }
  reportError(message);
  if (call && !callOver && !endReason) {
    endCall("error");
  } else if (!call || callOver) {
    finish();
  }
}

function errorText(err) {
  return err && err.message ? String(err.message) : String(err);
}

/** Wraps an event handler so an exception ends the session cleanly instead of leaving it running. */
function guard(fn) {
  return function () {
    try {
      return fn.apply(this, arguments);
    } catch (err) {
      fail(err);
    }
  };
}

VoxEngine.addEventListener(AppEvents.Started, guard(onStarted));
VoxEngine.addEventListener(AppEvents.HttpRequest, function (e) {
  try {
    return onHttpRequest(e);
  } catch (err) {
    fail(err);
    return JSON.stringify({ ok: false, error: "internal error" });
  }
});
