'use strict';
/**
 * Real VoxEngine names, as listed in Voximplant's own type declarations (typings/voxengine.d.ts in the
 * voximplant/voxengine-ci repository, version 28.0.0) and API reference. The simulator accepts exactly these
 * names; any other property read on a namespace throws, so a typo fails loudly. Names the simulator knows
 * but does not implement throw a "not supported by the simulator" error when used.
 */

const APP_EVENTS = {
  CallAlerting: 'Application.CallAlerting',
  Terminating: 'Application.Terminating',
  Terminated: 'Application.Terminated',
  Started: 'Application.Started',
  HttpRequest: 'Application.HttpRequest',
  WebSocket: 'AppEvents.NewWebSocketConnection',
  NewWebSocketFailed: 'Application.OnNewWebSocketFailed',
};

const CALL_EVENT_NAMES = [
  'AudioStarted', 'AudioIdentificationStarted', 'AudioIdentificationResult', 'AudioIdentificationStopped',
  'AudioIdentificationError', 'BlindTransferRequested', 'Connected', 'Forwarding', 'Disconnected', 'Failed',
  'InfoReceived', 'MessageReceived', 'MicStatusChange', 'OffHold', 'OnHold', 'PlaybackFinished', 'PlaybackReady',
  'PlaybackStarted', 'PushSent', 'ReInviteAccepted', 'ReInviteReceived', 'ReInviteRejected', 'RecordStarted',
  'RecordStopped', 'RecordError', 'Ringing', 'StateChanged', 'Statistics', 'ToneDetected', 'ToneReceived',
  'TransferComplete', 'TransferFailed', 'FirstAudioPacketReceived', 'FirstVideoPacketReceived', 'RtpStopped',
  'RtpResumed', 'BeepDetectionComplete', 'BeepDetectionError', 'AudioQualityDetected',
];
const CALL_EVENTS = Object.fromEntries(CALL_EVENT_NAMES.map((name) => [name, `Call.${name}`]));
CALL_EVENTS.VideoTrackCreated = 'Call.Video.TrackCreated';

const MODULES = {
  ACD: 'acd', AI: 'ai', ApplicationStorage: 'applicationstorage', ASR: 'asr', Avatar: 'avatar',
  Conference: 'conference', ElevenLabs: 'elevenlabs', Gemini: 'gemini', IVR: 'ivr', OpenAI: 'openai',
  PushService: 'pushservice', Recorder: 'recorder', SmartQueue: 'smartqueue', StreamingAgent: 'streamingagent',
  Ultravox: 'ultravox', Cartesia: 'cartesia', Yandex: 'yandex', VoximplantAPI: 'voximplantapi',
};

const VOXENGINE_FUNCTIONS = [
  'addEventListener', 'allowWebSocketConnections', 'callConference', 'callPSTN', 'callSIP', 'callUser',
  'callUserDirect', 'callWhatsappUser', 'createASR', 'createConference', 'createRecorder', 'createSequencePlayer',
  'createStreamingAgent', 'createTTSPlayer', 'createToneScriptPlayer', 'createURLPlayer', 'createWebSocket',
  'customData', 'destroyConference', 'disableStatisticsForIncomingWebsockets', 'disableTraceForIncomingWebsockets',
  'easyProcess', 'enableStatisticsForIncomingWebsockets', 'enableTraceForIncomingWebsockets', 'enqueueACDRequest',
  'enqueueTask', 'forwardCallToPSTN', 'forwardCallToSIP', 'forwardCallToUser', 'forwardCallToUserDirect',
  'getSecretValue', 'playSoundAndHangup', 'removeEventListener', 'sendMediaBetween', 'stopMediaBetween', 'terminate',
];

const NET_FUNCTIONS = ['httpRequest', 'httpRequestAsync', 'sendMail', 'sendMailAsync'];

const LOGGER_FUNCTIONS = ['hideTones', 'write'];

const CALL_METHODS = [
  'state', 'toString', 'customData', 'id', 'incoming', 'callerid', 'displayName', 'number', 'vad',
  'addEventListener', 'removeEventListener', 'clientType', 'hangup', 'answer', 'answerDirect', 'decline',
  'reject', 'ring', 'startEarlyMedia', 'startPlayback', 'say', 'record', 'stopPlayback', 'playProgressTone',
  'sendMessage', 'sendMediaTo', 'stopMediaTo', 'handleTones', 'sendInfo', 'sendDigits', 'handleMicStatus',
  'handleBlindTransfer', 'notifyBlindTransferSuccess', 'notifyBlindTransferFailed', 'enableBeepDetection',
  'disableBeepDetection', 'transferTo',
];

const OPENAI_REALTIME_EVENT_NAMES = [
  'Unknown', 'HTTPResponse', 'Error', 'SessionCreated', 'SessionUpdated', 'ConversationItemAdded',
  'ConversationItemDone', 'ConversationItemRetrieved', 'ConversationItemInputAudioTranscriptionCompleted',
  'ConversationItemInputAudioTranscriptionDelta', 'ConversationItemInputAudioTranscriptionSegment',
  'ConversationItemInputAudioTranscriptionFailed', 'ConversationItemTruncated', 'ConversationItemDeleted',
  'InputAudioBufferCommitted', 'InputAudioBufferCleared', 'InputAudioBufferSpeechStarted',
  'InputAudioBufferSpeechStopped', 'InputAudioBufferTimeoutTriggered', 'ResponseCreated', 'ResponseDone',
  'ResponseOutputItemAdded', 'ResponseOutputItemDone', 'ResponseContentPartAdded', 'ResponseContentPartDone',
  'ResponseOutputTextDelta', 'ResponseOutputTextDone', 'ResponseOutputAudioTranscriptDelta',
  'ResponseOutputAudioTranscriptDone', 'ResponseOutputAudioDone', 'ResponseFunctionCallArgumentsDelta',
  'ResponseFunctionCallArgumentsDone', 'ResponseMCPCallArgumentsDelta', 'ResponseMCPCallArgumentsDone',
  'ResponseMCPCallInProgress', 'ResponseMCPCallCompleted', 'ResponseMCPCallFailed', 'MCPListToolsInProgress',
  'MCPListToolsCompleted', 'MCPListToolsFailed', 'RateLimitsUpdated', 'WebSocketError', 'ConnectorInformation',
];
const OPENAI_REALTIME_EVENTS = Object.fromEntries(
  OPENAI_REALTIME_EVENT_NAMES.map((name) => [name, `OpenAI.RealtimeAPI.${name}`]),
);
// As the d.ts v28 has it (apparently a copy slip upstream: the same value as ResponseMCPCallFailed). Kept identical;
// the scenario does not listen for either.
OPENAI_REALTIME_EVENTS.RateLimitsUpdated = 'OpenAI.RealtimeAPI.ResponseMCPCallFailed';

const OPENAI_EVENTS = {
  WebSocketMediaStarted: 'OpenAI.Events.WebSocketMediaStarted',
  WebSocketMediaEnded: 'OpenAI.Events.WebSocketMediaEnded',
};

const OPENAI_CLIENT_TYPES = { REALTIME: 'realtime', TRANSCRIPTION: 'transcription' };

const OPENAI_CLIENT_METHODS = [
  'id', 'webSocketId', 'close', 'sendMediaTo', 'stopMediaTo', 'clearMediaBuffer', 'addEventListener',
  'removeEventListener', 'sessionUpdate', 'inputAudioBufferClear', 'conversationItemCreate',
  'conversationItemRetrieve', 'conversationItemTruncate', 'conversationItemDelete', 'responseCreate',
  'responseCancel',
];

// Answering-machine detection: a global namespace in the d.ts (`declare namespace AMD`), with no Modules member.
const AMD_EVENTS = { DetectionComplete: 'AMD.Events.DetectionComplete', DetectionError: 'AMD.Events.DetectionError' };
const AMD_MODELS = {
  BR: 'br', CL: 'cl', CO: 'colombia', KZ: 'kz', MX: 'mx', RU: 'ru', PH: 'ph', PE: 'pe', US: 'us',
  EU_GENERAL: 'eu_general',
};
const AMD_RESULT_CLASSES = { VOICEMAIL: 'VOICEMAIL', HUMAN: 'HUMAN', TIMEOUT: 'TIMEOUT', CALL_ENDED: 'CALL_ENDED' };
const AMD_RESULT_SUBTYPES = { MIMIC: 'MIMIC', NONE: 'NONE' };
const AMD_FUNCTIONS = ['create'];
const AMD_DETECTOR_METHODS = ['id', 'detect', 'addEventListener', 'removeEventListener'];

module.exports = {
  AMD_EVENTS,
  AMD_MODELS,
  AMD_RESULT_CLASSES,
  AMD_RESULT_SUBTYPES,
  AMD_FUNCTIONS,
  AMD_DETECTOR_METHODS,
  APP_EVENTS,
  CALL_EVENTS,
  MODULES,
  VOXENGINE_FUNCTIONS,
  NET_FUNCTIONS,
  LOGGER_FUNCTIONS,
  CALL_METHODS,
  OPENAI_REALTIME_EVENTS,
  OPENAI_EVENTS,
  OPENAI_CLIENT_TYPES,
  OPENAI_CLIENT_METHODS,
};
