'use strict';
/**
 * A fake of VoxEngine's OpenAI module (require(Modules.OpenAI)): OpenAI.createRealtimeAPIClient resolves to a
 * client that behaves like a short phone conversation. Events reach listeners as {client, data: {customEvent,
 * payload}}, where payload is the OpenAI Realtime server event (for example {type:
 * "response.output_audio_transcript.done", transcript}). That shape is not in the d.ts (it says only {client,
 * data?}); it follows Voximplant's Inworld reference for the same kind of client and public OpenAI scenarios (see
 * scenarios/README.md, "Not verified"). Event names: d.ts OpenAI.RealtimeAPIEvents; payloads: OpenAI's Realtime
 * server-events reference.
 *
 * Behaviour by the call's scripted outcome (see outcomes.js):
 *   ai "talk"          SessionCreated; once the scenario has sent sessionUpdate and bridged media, alternate agent
 *                      and callee transcript lines (the agent's lines reuse the session instructions). Before each
 *                      callee line the callee starts speaking (InputAudioBufferSpeechStarted, server VAD).
 *   ai "glitch"        as "talk", with recoverable OpenAI `error` events between the lines (OpenAI's server-events
 *                      reference: "most errors are recoverable and the session will stay open").
 *   ai "error"         SessionCreated, then a WebSocketError shortly after the session is configured: the
 *                      connection to OpenAI failed (fatal for the call).
 *   ai "create-fails"  createRealtimeAPIClient rejects.
 *   ai "menu"          as "talk", and MENU_CALL_AT ms in the model calls its press_keys tool with digits "1" (a
 *                      response holding one function_call item: ResponseCreated, ResponseOutputItemDone,
 *                      ResponseDone, as OpenAI's Realtime reference orders them).
 *
 * Whatever the outcome, the client keeps what the scenario added to the conversation (conversationItemCreate):
 * `said` (the text of each system message, e.g. a Say… request) and `toolOutputs` (each function_call_output). A
 * talking agent asked for a response after a system message speaks its last paragraph (the requester's words) as
 * its next transcript line. Tests may have the model call a tool with `callFunction(name, argumentsText)`.
 */
const { OPENAI_REALTIME_EVENTS, OPENAI_EVENTS, OPENAI_CLIENT_TYPES, OPENAI_CLIENT_METHODS } = require('./names');
const { strictNamespace, unsupported } = require('./strict');

/** Simulated ms, relative to the start of the conversation. */
// The agent's first line is the sentence its first response was asked to say word for word (the text in double
// quotes of response.create's `instructions`), as a model told so does, then the first sentence of the requester's
// instructions (the last paragraph of the session's instructions).
const SCRIPT = [
  { at: 300, role: 'agent', text: (c) => `${c.firstWords || 'Hello!'} ${firstSentence(c.requested())}` },
  { at: 1300, role: 'callee', text: () => 'Hi. Who is calling, please?' },
  { at: 2300, role: 'agent', text: (c) => `I'm an automated assistant. ${clip(c.requested(), 240)}` },
  { at: 3300, role: 'callee', text: () => 'All right, thank you. Goodbye!' },
];

/** ai "voicemail": one message, no callee. Its audio plays from 0.3 s for VOICEMAIL_MESSAGE_MS; WebSocketMediaEnded
 * comes after 1 s of silence (d.ts OpenAI.Events.WebSocketMediaEnded) with mediaInfo.duration (d.ts
 * WebSocketMediaInfo, "Audio stream duration"; seconds here, the unit is not documented). */
const VOICEMAIL_MESSAGE_MS = 12000;

/** The outcomes whose agent talks (the others connect and stay silent, or fail). */
const TALKING = new Set(['talk', 'glitch', 'voicemail', 'menu']);

/** ai "menu": when the model calls press_keys, simulated ms after the conversation starts (between the first
 * agent line and the callee's first words). */
const MENU_CALL_AT = 600;
/** How long a talking agent takes to answer a response.create that follows a system message, simulated ms. */
const SAY_DELAY_MS = 300;

/** How long before a callee line the callee starts speaking (InputAudioBufferSpeechStarted), simulated ms. */
const SPEECH_LEAD_MS = 200;
/** How long before a callee line's transcript the callee stops speaking (InputAudioBufferSpeechStopped). */
const SPEECH_STOP_LEAD_MS = 50;

/** Recoverable `error` events of the "glitch" outcome: between the lines of a good conversation. */
const GLITCHES = [
  {
    at: 800,
    event: {
      type: 'error',
      error: {
        type: 'invalid_request_error',
        code: 'conversation_already_has_active_response',
        message: 'Conversation already has an active response in progress',
        param: null,
      },
    },
  },
  {
    at: 1800,
    event: {
      type: 'error',
      error: { type: 'server_error', code: null, message: 'The server had an error while processing your request', param: null },
    },
  },
];

function firstSentence(text) {
  const s = String(text || '').trim();
  const match = s.match(/^.*?[.!?](\s|$)/);
  return clip(match ? match[0].trim() : s, 160);
}

function clip(text, max) {
  const s = String(text || '').trim();
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

/**
 * Builds the `OpenAI` global for one simulation. `sim` supplies: api(name, args), after(simMs, fn) -> cancel,
 * invoke(fn, args), fail(error), promise(executor), makeError(message), nameError(error), outcomeOfCurrentCall(),
 * registerMediaUnit(proxy, descriptor), timeline(kind, name, detail), isEnded().
 */
function createOpenAIModule(sim) {
  let clientSeq = 0;

  function createRealtimeAPIClient(parameters) {
    sim.api('createRealtimeAPIClient', [parameters]);
    return sim.promise((resolve, reject) => {
      if (!parameters || typeof parameters !== 'object') {
        reject(sim.makeError('OpenAI.createRealtimeAPIClient: parameters must be an object'));
        return;
      }
      if (typeof parameters.apiKey !== 'string' || parameters.apiKey.length === 0) {
        reject(sim.makeError('OpenAI.createRealtimeAPIClient: apiKey is required'));
        return;
      }
      const outcome = sim.outcomeOfCurrentCall();
      if (outcome && outcome.ai === 'create-fails') {
        sim.after(100, () => reject(sim.makeError('simulated: the OpenAI Realtime API refused the connection (401)')));
        return;
      }
      clientSeq += 1;
      const client = new FakeRealtimeClient(sim, `openai-${clientSeq}`, parameters, outcome);
      sim.after(100, () => {
        resolve(client.proxy);
        client.opened();
      });
    });
  }

  const onError = (error) => sim.nameError(error);
  return strictNamespace(
    'OpenAI',
    {
      createRealtimeAPIClient,
      RealtimeAPIEvents: strictNamespace('OpenAI.RealtimeAPIEvents', OPENAI_REALTIME_EVENTS, onError),
      Events: strictNamespace('OpenAI.Events', OPENAI_EVENTS, onError),
      RealtimeAPIClientType: strictNamespace('OpenAI.RealtimeAPIClientType', OPENAI_CLIENT_TYPES, onError),
      ...unsupported('OpenAI', ['RealtimeAPIClient'], onError),
      Beta: strictNamespace('OpenAI.Beta', unsupported('OpenAI.Beta', ['createRealtimeAPIClient'], onError), onError),
    },
    onError,
  );
}

const VALID_EVENTS = new Set([...Object.values(OPENAI_REALTIME_EVENTS), ...Object.values(OPENAI_EVENTS)]);
const EVENT_NAME = Object.fromEntries(Object.entries(OPENAI_REALTIME_EVENTS).map(([k, v]) => [v, k]));

class FakeRealtimeClient {
  constructor(sim, id, parameters, outcome) {
    this.sim = sim;
    this.id = id;
    this.parameters = parameters;
    this.outcome = outcome || {};
    this.listeners = new Map();
    this.cancels = [];
    this.closed = false;
    this.configured = false;
    this.bridged = false;
    this.talking = false;
    this.instructions = '';
    this.firstWords = null;
    this.eventSeq = 0;
    this.said = []; // the text of each system message the scenario added (conversationItemCreate)
    this.toolOutputs = []; // each function_call_output item the scenario added: {call_id, output}
    this.unspoken = null; // the requester's words from the last system message, until a response speaks them
    this.responseSeq = 0;
    const self = this;
    const record = (name) => (...args) => {
      sim.api(name, args);
    };
    const methods = {
      id: () => self.id,
      webSocketId: () => `${self.id}-ws`,
      close: () => {
        sim.api('close');
        self.close('closed by the scenario');
      },
      sendMediaTo: (unit) => {
        sim.api('sendMediaTo', [unit]);
        self.mediaBridged();
      },
      stopMediaTo: record('stopMediaTo'),
      clearMediaBuffer: record('clearMediaBuffer'),
      addEventListener: (event, callback) => self.addEventListener(event, callback),
      removeEventListener: (event, callback) => self.removeEventListener(event, callback),
      sessionUpdate: (params) => {
        sim.api('sessionUpdate', [params]);
        self.sessionUpdate(params);
      },
      inputAudioBufferClear: record('inputAudioBufferClear'),
      conversationItemCreate: (params) => {
        sim.api('conversationItemCreate', [params]);
        self.itemCreated(params);
      },
      conversationItemRetrieve: record('conversationItemRetrieve'),
      conversationItemTruncate: record('conversationItemTruncate'),
      conversationItemDelete: record('conversationItemDelete'),
      responseCreate: (params) => {
        sim.api('responseCreate', [params]);
        const asked = params && params.response && params.response.instructions;
        const quoted = typeof asked === 'string' ? asked.match(/"([^"]+)"/) : null;
        if (quoted && self.firstWords === null) self.firstWords = quoted[1];
        else if (quoted && self.talking) self.speak(quoted[1]); // a later response asked for word for word
        self.responseAsked();
      },
      responseCancel: record('responseCancel'),
    };
    for (const name of OPENAI_CLIENT_METHODS) {
      if (!methods[name]) throw new Error(`fake OpenAI client lacks ${name}`);
    }
    this.proxy = strictNamespace('OpenAI.RealtimeAPIClient', methods, (error) => sim.nameError(error));
    sim.registerMediaUnit(this.proxy, { kind: 'openai', id, unit: this });
  }

  addEventListener(event, callback) {
    if (!VALID_EVENTS.has(event)) {
      throw new TypeError(`RealtimeAPIClient.addEventListener: ${String(event)} is not an OpenAI event`);
    }
    if (typeof callback !== 'function') throw new TypeError('RealtimeAPIClient.addEventListener: callback required');
    if (!this.listeners.has(event)) this.listeners.set(event, []);
    this.listeners.get(event).push(callback);
  }

  removeEventListener(event, callback) {
    const list = this.listeners.get(event) || [];
    this.listeners.set(event, callback ? list.filter((cb) => cb !== callback) : []);
  }

  /** The requester's instructions: the last paragraph of the session's (the scenario puts its own rules first). */
  requested() {
    const parts = String(this.instructions || '').split('\n\n');
    return parts[parts.length - 1];
  }

  schedule(simMs, fn) {
    this.cancels.push(this.sim.after(simMs, () => !this.closed && fn()));
  }

  emit(event, payload) {
    if (this.closed || this.sim.isEnded()) return;
    this.eventSeq += 1;
    const data = { customEvent: EVENT_NAME[event] || event, payload: { event_id: `event_${this.eventSeq}`, ...payload } };
    this.sim.timeline('openai', event, payload);
    for (const callback of [...(this.listeners.get(event) || [])]) {
      this.sim.invoke(callback, [{ client: this.proxy, data }]);
    }
  }

  opened() {
    this.schedule(100, () =>
      this.emit(OPENAI_REALTIME_EVENTS.SessionCreated, {
        type: 'session.created',
        session: { type: 'realtime', model: this.parameters.model || 'gpt-realtime', instructions: '' },
      }),
    );
  }

  sessionUpdate(params) {
    const session = (params && params.session) || params || {};
    if (typeof session.instructions === 'string') this.instructions = session.instructions;
    this.configured = true;
    this.schedule(50, () =>
      this.emit(OPENAI_REALTIME_EVENTS.SessionUpdated, { type: 'session.updated', session }),
    );
    if (this.outcome.ai === 'error') {
      this.schedule(300, () =>
        this.emit(OPENAI_REALTIME_EVENTS.WebSocketError, {
          type: 'websocket_error',
          message: 'Simulated Realtime API failure: the WebSocket connection was lost',
        }),
      );
    }
    this.maybeTalk();
  }

  mediaBridged() {
    this.bridged = true;
    this.maybeTalk();
  }

  maybeTalk() {
    if (this.talking || !this.configured || !this.bridged || !TALKING.has(this.outcome.ai)) return;
    this.talking = true;
    if (this.outcome.ai === 'voicemail') {
      this.leaveMessage();
      return;
    }
    if (this.outcome.ai === 'glitch') {
      GLITCHES.forEach((glitch) => this.schedule(glitch.at, () => this.emit(OPENAI_REALTIME_EVENTS.Error, glitch.event)));
    }
    if (this.outcome.ai === 'menu') {
      this.schedule(MENU_CALL_AT, () => this.callFunction('press_keys', JSON.stringify({ digits: '1' })));
    }
    SCRIPT.forEach((line, index) => {
      if (line.role === 'callee') {
        // Server VAD hears the callee start: the agent's buffered audio should be cleared (barge-in).
        this.schedule(line.at - SPEECH_LEAD_MS, () =>
          this.emit(OPENAI_REALTIME_EVENTS.InputAudioBufferSpeechStarted, {
            type: 'input_audio_buffer.speech_started',
            audio_start_ms: line.at - SPEECH_LEAD_MS,
            item_id: `item_${index + 1}`,
          }),
        );
      }
      if (line.role === 'callee') {
        // The callee stops; the transcription of what they said completes just after (OpenAI's server events).
        this.schedule(line.at - SPEECH_STOP_LEAD_MS, () =>
          this.emit(OPENAI_REALTIME_EVENTS.InputAudioBufferSpeechStopped, {
            type: 'input_audio_buffer.speech_stopped',
            audio_end_ms: line.at - SPEECH_STOP_LEAD_MS,
            item_id: `item_${index + 1}`,
          }),
        );
      }
      this.schedule(line.at, () => {
        const text = line.text(this);
        const itemId = `item_${index + 1}`;
        if (line.role === 'agent') {
          this.emit(OPENAI_REALTIME_EVENTS.ResponseOutputAudioTranscriptDone, {
            type: 'response.output_audio_transcript.done',
            response_id: `resp_${index + 1}`,
            item_id: itemId,
            output_index: 0,
            content_index: 0,
            transcript: text,
          });
        } else {
          this.emit(OPENAI_REALTIME_EVENTS.ConversationItemInputAudioTranscriptionCompleted, {
            type: 'conversation.item.input_audio_transcription.completed',
            item_id: itemId,
            content_index: 0,
            transcript: text,
          });
        }
      });
    });
  }

  /** conversation.item.create: keep system messages' text and function outputs (OpenAI's item shapes). */
  itemCreated(params) {
    const item = params && params.item;
    if (!item || typeof item !== 'object') throw new TypeError('conversationItemCreate: parameters.item must be an object');
    if (item.type === 'message' && item.role === 'system') {
      const text = (item.content || []).filter((c) => c && c.type === 'input_text').map((c) => c.text).join('\n');
      this.said.push(text);
      const parts = text.split('\n\n');
      this.unspoken = parts[parts.length - 1];
    } else if (item.type === 'function_call_output') {
      this.toolOutputs.push({ call_id: item.call_id, output: item.output });
    }
  }

  /** response.create: a talking agent asked after a system message speaks the requester's words next. */
  responseAsked() {
    if (this.unspoken === null || !this.talking || this.outcome.ai === 'voicemail') return;
    const words = this.unspoken;
    this.unspoken = null;
    this.responseSeq += 1;
    const responseId = `resp_say_${this.responseSeq}`;
    this.schedule(SAY_DELAY_MS, () => {
      this.emit(OPENAI_REALTIME_EVENTS.ResponseCreated, { type: 'response.created', response: { id: responseId } });
      this.emit(OPENAI_REALTIME_EVENTS.ResponseOutputAudioTranscriptDone, {
        type: 'response.output_audio_transcript.done', response_id: responseId, item_id: `item_${responseId}`,
        output_index: 0, content_index: 0, transcript: words,
      });
      this.emit(OPENAI_REALTIME_EVENTS.ResponseDone, { type: 'response.done', response: { id: responseId } });
    });
  }

  /** The model calls a function: one response holding one function_call item (OpenAI's response.output_item.done
   * carries the whole item: type, name, call_id, arguments as a JSON string). */
  callFunction(name, argumentsText) {
    this.responseSeq += 1;
    const responseId = `resp_fn_${this.responseSeq}`;
    const item = {
      id: `item_fn_${this.responseSeq}`, type: 'function_call', status: 'completed', name,
      call_id: `call_${this.responseSeq}`, arguments: argumentsText,
    };
    this.emit(OPENAI_REALTIME_EVENTS.ResponseCreated, { type: 'response.created', response: { id: responseId } });
    this.emit(OPENAI_REALTIME_EVENTS.ResponseOutputItemDone, {
      type: 'response.output_item.done', response_id: responseId, output_index: 0, item,
    });
    this.emit(OPENAI_REALTIME_EVENTS.ResponseDone, { type: 'response.done', response: { id: responseId, output: [item] } });
    return item.call_id;
  }

  leaveMessage() {
    this.schedule(300, () => this.emitMedia(OPENAI_EVENTS.WebSocketMediaStarted, { encoding: 'PCM16' }));
    this.schedule(300 + VOICEMAIL_MESSAGE_MS, () =>
      this.emit(OPENAI_REALTIME_EVENTS.ResponseOutputAudioTranscriptDone, {
        type: 'response.output_audio_transcript.done',
        response_id: 'resp_1',
        item_id: 'item_1',
        output_index: 0,
        content_index: 0,
        transcript: `${this.firstWords || 'Hello!'} ${firstSentence(this.requested())} Goodbye.`,
      }),
    );
    this.schedule(300 + VOICEMAIL_MESSAGE_MS + 1000, () =>
      this.emitMedia(OPENAI_EVENTS.WebSocketMediaEnded, { mediaInfo: { duration: VOICEMAIL_MESSAGE_MS / 1000 } }),
    );
  }

  /** A later response whose instructions quote a sentence (the scenario's join announcement): the agent says it,
   * framed by WebSocketMediaStarted and, after 1 s of silence, WebSocketMediaEnded (d.ts OpenAI.Events). */
  speak(text) {
    this.schedule(300, () => this.emitMedia(OPENAI_EVENTS.WebSocketMediaStarted, { encoding: 'PCM16' }));
    this.schedule(1300, () =>
      this.emit(OPENAI_REALTIME_EVENTS.ResponseOutputAudioTranscriptDone, {
        type: 'response.output_audio_transcript.done',
        response_id: `resp_said_${this.eventSeq}`,
        item_id: `item_said_${this.eventSeq}`,
        output_index: 0,
        content_index: 0,
        transcript: text,
      }),
    );
    this.schedule(2300, () => this.emitMedia(OPENAI_EVENTS.WebSocketMediaEnded, { mediaInfo: { duration: 1 } }));
  }

  /** OpenAI.Events (d.ts _WebSocketMediaStartedOpenAIEvent / _WebSocketMediaEndedOpenAIEvent): {client, ...fields}. */
  emitMedia(event, fields) {
    if (this.closed || this.sim.isEnded()) return;
    this.sim.timeline('openai', event, fields);
    for (const callback of [...(this.listeners.get(event) || [])]) {
      this.sim.invoke(callback, [{ client: this.proxy, ...fields }]);
    }
  }

  /** The call's media stopped (call ended): no more speech. */
  mediaEnded() {
    this.cancelAll();
  }

  cancelAll() {
    for (const cancel of this.cancels) cancel();
    this.cancels = [];
  }

  close(reason) {
    if (this.closed) return;
    this.closed = true;
    this.cancelAll();
    const onClose = this.parameters.onWebSocketClose;
    if (typeof onClose === 'function') {
      this.sim.after(20, () => this.sim.invoke(onClose, [{ code: 1000, reason }]));
    }
  }
}

module.exports = {
  createOpenAIModule, SCRIPT, GLITCHES, SPEECH_LEAD_MS, VOICEMAIL_MESSAGE_MS, MENU_CALL_AT, firstSentence,
};
