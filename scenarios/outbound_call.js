/*
 * callbot: outbound call with an OpenAI Realtime agent (VoxEngine scenario).
 *
 * Started by the bot through StartScenarios with script_custom_data (contract v1, see scenarios/README.md).
 * It places one call on the requested channel, bridges it to an OpenAI Realtime client once the callee
 * answers, reports status events to the bot's callback URL, accepts {"action":"hangup"} on the session's
 * access URL, and always ends with VoxEngine.terminate().
 *
 * Plain VoxEngine JavaScript: no Node modules, no import/export. Secrets (the callback token and the
 * OpenAI key) never go into Logger output.
 */

require(Modules.OpenAI);

var CONTRACT_VERSION = 1;
var CHANNELS = ["pstn", "sip", "user", "whatsapp"];
var OPENAI_KEY_SECRET = "OPENAI_API_KEY"; // name of the secret in the application's secret storage
var OPENAI_MODEL = "gpt-realtime";
var TRANSCRIPTION_MODEL = "gpt-4o-mini-transcribe";

var CALLBACK_TRIES = 4; // first try plus three retries
var CALLBACK_BACKOFF_MS = [500, 1000, 2000];
var CALLBACK_TIMEOUT_S = 10; // Net.httpRequestAsync timeout, in seconds
var FLUSH_WAIT_MS = 5000; // longest wait for the event queue before terminate
var HANGUP_GRACE_MS = 5000; // longest wait for Disconnected/Failed after our own hangup
var WATCHDOG_EXTRA_S = 300; // the session never outlives max_duration_s plus this (dialling, ringing, slack)

// The longest text the bot takes in each event field (scenarios/README.md); longer text is cut to fit, ending in
// an ellipsis, so that the bot never refuses an event (a refusal is final: the event would be lost).
var MAX_TRANSCRIPT_CHARS = 10000;
var MAX_FAILED_REASON_CHARS = 500;
var MAX_DISCONNECTED_REASON_CHARS = 100;
var MAX_ERROR_MESSAGE_CHARS = 2000;

var E164 = /^\+[1-9][0-9]{6,14}$/;
var SIP_URI = /^sips?:[^\s@]+@[^\s]+$/;
var NO_SPACE = /^\S+$/;

// ---------------------------------------------------------------------------------------------------------
// Session state
// ---------------------------------------------------------------------------------------------------------

var config = null; // validated custom data
var reporter = null; // {url, token, callId} once the callback is usable
var seq = 0;
var call = null;
var aiClient = null;
var connectedAt = 0; // Date.now() at CallEvents.Connected, 0 before
var endReason = null; // set when we decide to end the call: hangup_requested | max_duration | ai_error | error
var callOver = false; // Disconnected or Failed seen (or given up waiting for it)
var finished = false; // finish() ran: no more events, flushing then terminate
var ringingReported = false;
var maxDurationTimer = null;
var hangupGraceTimer = null;
var watchdogTimer = null;
var lastError = null; // the last error reported: the reason of the `failed` ending a session that placed no call

// ---------------------------------------------------------------------------------------------------------
// Status events: an in-order queue, one request in flight, bounded retries. Never awaited by call logic.
// ---------------------------------------------------------------------------------------------------------

var queue = [];
var pumping = false;
var idleWaiters = [];

function report(event, data) {
  if (!reporter || finished) {
    return;
  }
  seq += 1;
  var body = JSON.stringify({
    v: CONTRACT_VERSION,
    call_id: reporter.callId,
    seq: seq,
    event: event,
    at: new Date().toISOString(),
    data: data || {}
  });
  queue.push({ seq: seq, event: event, body: body });
  pump();
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

function pump() {
  if (pumping) {
    return;
  }
  pumping = true;
  deliverNext();
}

function deliverNext() {
  if (queue.length === 0) {
    pumping = false;
    var waiters = idleWaiters;
    idleWaiters = [];
    for (var i = 0; i < waiters.length; i++) {
      waiters[i]();
    }
    return;
  }
  var item = queue[0];
  var advance = function () {
    queue.shift();
    deliverNext();
  };
  deliver(item, 1).then(advance, function (err) {
    Logger.write("callbot: event " + item.seq + " (" + item.event + ") dropped: " + errorText(err));
    advance();
  });
}

function deliver(item, attempt) {
  return post(item.body).then(function (code) {
    if (code >= 200 && code < 300) {
      return;
    }
    var permanent = code >= 400 && code < 500 && code !== 408 && code !== 429;
    if (permanent) {
      Logger.write("callbot: event " + item.seq + " (" + item.event + ") refused with HTTP " + code + "; dropped");
      return;
    }
    if (attempt >= CALLBACK_TRIES) {
      Logger.write("callbot: event " + item.seq + " (" + item.event + ") not delivered after " + attempt +
        " tries (last code " + code + "); dropped");
      return;
    }
    return sleep(CALLBACK_BACKOFF_MS[attempt - 1]).then(function () {
      return deliver(item, attempt + 1);
    });
  });
}

function post(body) {
  var options = {
    method: "POST",
    headers: {
      "Authorization": "Bearer " + reporter.token,
      "Content-Type": "application/json"
    },
    postData: body,
    timeout: CALLBACK_TIMEOUT_S
  };
  var request;
  try {
    request = Net.httpRequestAsync(reporter.url, options);
  } catch (e) {
    return Promise.resolve(-1);
  }
  return Promise.resolve(request).then(
    function (result) {
      return result && typeof result.code === "number" ? result.code : -1;
    },
    function () {
      return -1;
    }
  );
}

/** Resolves when the queue is empty or after maxMs, whichever comes first. */
function flushQueue(maxMs) {
  return new Promise(function (resolve) {
    if (!pumping && queue.length === 0) {
      resolve();
      return;
    }
    var done = false;
    var timer = setTimeout(function () {
      if (!done) {
        done = true;
        Logger.write("callbot: " + queue.length + " event(s) still undelivered at terminate");
        resolve();
      }
    }, maxMs);
    idleWaiters.push(function () {
      if (!done) {
        done = true;
        clearTimeout(timer);
        resolve();
      }
    });
  });
}

function sleep(ms) {
  return new Promise(function (resolve) {
    setTimeout(resolve, ms);
  });
}

// ---------------------------------------------------------------------------------------------------------
// Custom data (contract v1)
// ---------------------------------------------------------------------------------------------------------

function isNonEmptyString(value) {
  return typeof value === "string" && value.trim().length > 0;
}

function usableCallback(data) {
  return isNonEmptyString(data.callback_url) && /^https?:\/\/\S+$/.test(data.callback_url) &&
    isNonEmptyString(data.callback_token);
}

/** Returns {data, problems}: data is the parsed object (or null), problems a list of sentences. */
function parseCustomData(raw) {
  if (!isNonEmptyString(raw)) {
    return { data: null, problems: ["custom data is empty; expected a JSON object (contract v1)"] };
  }
  var data;
  try {
    data = JSON.parse(raw);
  } catch (e) {
    return { data: null, problems: ["custom data is not valid JSON (" + e.message + ")"] };
  }
  if (data === null || typeof data !== "object" || Array.isArray(data)) {
    return { data: null, problems: ["custom data is not a JSON object"] };
  }
  var problems = [];
  if (data.v === undefined) {
    problems.push("field 'v' is missing (expected contract version " + CONTRACT_VERSION + ")");
  } else if (data.v !== CONTRACT_VERSION) {
    problems.push("unsupported contract version " + JSON.stringify(data.v) + " (expected " + CONTRACT_VERSION + ")");
  }
  ["call_id", "destination", "caller_id", "channel", "instructions", "callback_url", "callback_token"]
    .forEach(function (field) {
      if (!isNonEmptyString(data[field])) {
        problems.push("field '" + field + "' is missing or not a non-empty string");
      }
    });
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
  if (isNonEmptyString(data.callback_url) && !/^https?:\/\/\S+$/.test(data.callback_url)) {
    problems.push("callback_url is not an http(s) URL");
  }
  if (!(typeof data.max_duration_s === "number" && Math.floor(data.max_duration_s) === data.max_duration_s &&
    data.max_duration_s > 0)) {
    problems.push("field 'max_duration_s' must be a positive integer");
  }
  return { data: data, problems: problems };
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

// ---------------------------------------------------------------------------------------------------------
// The call
// ---------------------------------------------------------------------------------------------------------

function placeCall(c) {
  switch (c.channel) {
    case "pstn":
      return VoxEngine.callPSTN(c.destination, c.caller_id);
    case "sip":
      return VoxEngine.callSIP(c.destination, { callerid: c.caller_id });
    case "user":
      return VoxEngine.callUser({ username: c.destination, callerid: c.caller_id });
    case "whatsapp":
      return VoxEngine.callWhatsappUser({ number: c.destination, callerid: c.caller_id });
  }
  throw new Error("unsupported channel " + c.channel);
}

function onStarted() {
  var parsed = parseCustomData(VoxEngine.customData());
  if (parsed.data && usableCallback(parsed.data)) {
    reporter = {
      url: parsed.data.callback_url,
      token: parsed.data.callback_token,
      callId: typeof parsed.data.call_id === "string" ? parsed.data.call_id : null
    };
  }
  if (parsed.problems.length > 0) {
    Logger.write("callbot: bad custom data: " + parsed.problems.join("; "));
    reportError("bad custom data: " + parsed.problems.join("; "));
    finish();
    return;
  }
  config = parsed.data;
  watchdogTimer = setTimeout(guard(function () {
    Logger.write("callbot: session watchdog fired; ending the session");
    fail(new Error("session exceeded max_duration_s + " + WATCHDOG_EXTRA_S + " s"));
  }), (config.max_duration_s + WATCHDOG_EXTRA_S) * 1000);

  report("started", {});
  Logger.write("callbot: call " + config.call_id + ": dialling on channel " + config.channel);
  call = placeCall(config);
  call.addEventListener(CallEvents.Ringing, guard(onRinging));
  call.addEventListener(CallEvents.Connected, guard(onConnected));
  call.addEventListener(CallEvents.Failed, guard(onFailed));
  call.addEventListener(CallEvents.Disconnected, guard(onDisconnected));
  report("dialing", {});
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
  startAgent().catch(function (e) {
    aiFailed("OpenAI Realtime client failed: " + errorText(e));
  });
}

function onFailed(e) {
  if (callOver) {
    return;
  }
  callOver = true;
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
        if (!endReason && !callOver && !finished) {
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
      client.sessionUpdate({
        session: {
          type: "realtime",
          instructions: config.instructions,
          output_modalities: ["audio"],
          audio: {
            input: {
              transcription: { model: TRANSCRIPTION_MODEL },
              turn_detection: { type: "server_vad" }
            }
          }
        }
      });
      // Outbound call: the agent speaks first.
      client.responseCreate({});
    }));
    client.addEventListener(OpenAI.RealtimeAPIEvents.ResponseOutputAudioTranscriptDone, guard(function (e) {
      forwardTranscript("agent", payloadOf(e).transcript);
    }));
    client.addEventListener(OpenAI.RealtimeAPIEvents.ConversationItemInputAudioTranscriptionCompleted,
      guard(function (e) {
        forwardTranscript("callee", payloadOf(e).transcript);
      }));
    client.addEventListener(OpenAI.RealtimeAPIEvents.Error, guard(function (e) {
      aiFailed("OpenAI Realtime error: " + describeAiError(e));
    }));
    client.addEventListener(OpenAI.RealtimeAPIEvents.WebSocketError, guard(function (e) {
      aiFailed("OpenAI Realtime WebSocket error: " + describeAiError(e));
    }));
    VoxEngine.sendMediaBetween(call, client);
  }));
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

function aiFailed(message) {
  if (endReason || callOver || finished) {
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
// Control over the session's access URL
// ---------------------------------------------------------------------------------------------------------

var HANGUP_HINT = "expected POST with body {\"action\":\"hangup\"}";

function onHttpRequest(e) {
  return JSON.stringify(control(e));
}

function control(e) {
  var method = String((e && e.method) || "").toUpperCase();
  if (method !== "POST") {
    return { ok: false, error: "method " + (method || "(none)") + " not allowed; " + HANGUP_HINT };
  }
  var body;
  try {
    body = JSON.parse(e.content);
  } catch (err) {
    return { ok: false, error: "body is not valid JSON; " + HANGUP_HINT };
  }
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    return { ok: false, error: "body is not a JSON object; " + HANGUP_HINT };
  }
  if (body.action !== "hangup") {
    var shown = body.action === undefined ? "(none)" : "'" + String(body.action) + "'";
    return { ok: false, error: "unknown action " + shown + "; expected {\"action\":\"hangup\"}" };
  }
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

// ---------------------------------------------------------------------------------------------------------
// Ending the session
// ---------------------------------------------------------------------------------------------------------

function stopTimer(name) {
  if (name === "maxDuration" && maxDurationTimer) {
    clearTimeout(maxDurationTimer);
    maxDurationTimer = null;
  }
}

/** Stops reporting, flushes the queue with a bounded wait, then terminates the session. Runs once. */
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
  if (hangupGraceTimer) {
    clearTimeout(hangupGraceTimer);
  }
  if (watchdogTimer) {
    clearTimeout(watchdogTimer);
  }
  closeAgent();
  flushQueue(FLUSH_WAIT_MS).then(function () {
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
