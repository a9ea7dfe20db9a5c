// The parley demo client: microphone (and optionally camera) to the server over WebRTC, the assistant's
// audio back, the events channel driving the transcript, turn state and latency waterfall.
import { createSession, deleteSession, cancelResponse } from './protocol.js';

const $ = (id) => document.getElementById(id);
const ui = {
  start: $('start'), stop: $('stop'), camera: $('camera'), state: $('state'), connection: $('connection'),
  micLevel: $('mic-level'), remoteLevel: $('remote-level'), preview: $('preview'), audio: $('remote-audio'),
  transcript: $('transcript'), waterfall: $('waterfall'), log: $('log'), health: $('health'),
};

// What tests (and curious people) can read: window.parley.
const status = { pcState: 'new', channelOpen: false, events: [], remoteLevel: 0, maxRemoteLevel: 0, error: null };
window.parley = status;

let session = null;

function log(line) {
  ui.log.textContent = `${new Date().toISOString().slice(11, 23)} ${line}\n` + ui.log.textContent.slice(0, 4000);
}

function setTurnState(state) {
  ui.state.textContent = state.replace('-', ' ');
  ui.state.className = `state ${state}`;
}

// RMS level of an analyser's current window, 0..1.
function level(analyser, buffer) {
  analyser.getFloatTimeDomainData(buffer);
  let sum = 0;
  for (const v of buffer) sum += v * v;
  return Math.sqrt(sum / buffer.length);
}

function meter(context, stream, element, onLevel) {
  const analyser = context.createAnalyser();
  analyser.fftSize = 1024;
  context.createMediaStreamSource(stream).connect(analyser);
  const buffer = new Float32Array(analyser.fftSize);
  const timer = setInterval(() => {
    const value = level(analyser, buffer);
    element.value = Math.min(1, value * 4);
    onLevel?.(value);
  }, 50);
  return () => clearInterval(timer);
}

const items = new Map();
function transcriptLine(id, role) {
  if (!items.has(id)) {
    const li = document.createElement('li');
    li.className = role;
    ui.transcript.appendChild(li);
    items.set(id, li);
  }
  return items.get(id);
}

function showLatency(itemId, latency) {
  const stages = [
    ['end of turn', latency.end_of_turn_ms], ['transcript', latency.transcript_ms],
    ['first token', latency.first_token_ms], ['first audio', latency.first_audio_ms],
    ['sent', latency.audio_sent_ms ?? latency.first_audio_ms],
  ];
  const total = Math.max(1, ...stages.map(([, ms]) => ms));
  const turn = document.createElement('div');
  turn.className = 'turn';
  const bar = document.createElement('div');
  bar.className = 'bar';
  let previous = 0;
  stages.forEach(([name, ms], i) => {
    const span = document.createElement('span');
    span.className = `s${i}`;
    span.style.width = `${(100 * Math.max(0, ms - previous)) / total}%`;
    span.title = `${name}: ${ms.toFixed(0)} ms`;
    bar.appendChild(span);
    previous = Math.max(previous, ms);
  });
  const legend = document.createElement('div');
  legend.className = 'legend';
  legend.textContent = `${itemId}: ` + stages.map(([name, ms]) => `${name} ${ms.toFixed(0)} ms`).join(' · ');
  turn.append(bar, legend);
  ui.waterfall.querySelector('.hint')?.remove();
  ui.waterfall.prepend(turn);
}

function handleEvent(event) {
  status.events.push(event);
  switch (event.type) {
    case 'session.created':
      log(`session ${event.session.id} (${event.session.protocol})`);
      setTurnState('listening');
      break;
    case 'input_audio_buffer.speech_started':
      setTurnState('user-speaking');
      break;
    case 'input_audio_buffer.speech_stopped':
      setTurnState('thinking');
      break;
    case 'conversation.item.input_audio_transcription.delta':
      transcriptLine(event.item_id, 'user').textContent += event.delta;
      break;
    case 'conversation.item.input_audio_transcription.completed':
      transcriptLine(event.item_id, 'user').textContent = event.transcript;
      break;
    case 'response.created':
      setTurnState('assistant-speaking');
      break;
    case 'response.audio_transcript.delta':
      transcriptLine(event.response_id, 'assistant').textContent += event.delta;
      break;
    case 'response.done': {
      const li = transcriptLine(event.response_id, 'assistant');
      if (event.status === 'interrupted') {
        li.textContent = event.played_text;
        li.classList.add('interrupted');
      }
      setTurnState('listening');
      break;
    }
    case 'parley.speech.ignored':
      log(`speech ignored (${event.reason})`);
      setTurnState('listening');
      break;
    case 'parley.turn.latency':
      showLatency(event.item_id, event.latency);
      break;
    case 'error':
      log(`server error ${event.error.code}: ${event.error.message}`);
      break;
    default:
      log(`event ${event.type}`);
  }
}

async function start() {
  ui.start.disabled = true;
  status.error = null;
  try {
    const constraints = {
      audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
      video: ui.camera.checked ? { width: 640, height: 480, frameRate: 15 } : false,
    };
    const media = await navigator.mediaDevices.getUserMedia(constraints);
    const pc = new RTCPeerConnection();
    const context = new AudioContext();
    const stops = [];
    session = { pc, media, context, stops, location: null };

    media.getTracks().forEach((track) => pc.addTrack(track, media));
    if (ui.camera.checked) {
      ui.preview.srcObject = media;
      ui.preview.hidden = false;
      ui.preview.play().catch(() => {});
    }
    stops.push(meter(context, media, ui.micLevel));

    const channel = pc.createDataChannel('events');
    session.channel = channel;
    channel.onopen = () => { status.channelOpen = true; log('events channel open'); };
    channel.onmessage = (m) => {
      try { handleEvent(JSON.parse(m.data)); } catch (e) { log(`bad event: ${e}`); }
    };

    pc.ontrack = (e) => {
      if (e.track.kind !== 'audio') return;
      const stream = e.streams[0] || new MediaStream([e.track]);
      // Chromium feeds remote audio to WebAudio only while an <audio> element plays it too.
      ui.audio.srcObject = stream;
      ui.audio.play().catch(() => {});
      stops.push(meter(context, stream, ui.remoteLevel, (v) => {
        status.remoteLevel = v;
        status.maxRemoteLevel = Math.max(status.maxRemoteLevel, v);
      }));
    };
    pc.onconnectionstatechange = () => {
      status.pcState = pc.connectionState;
      ui.connection.textContent = pc.connectionState;
      log(`connection ${pc.connectionState}`);
      if (pc.connectionState === 'failed') stop();
    };

    await pc.setLocalDescription(await pc.createOffer());
    // Non-trickle: wait for every candidate before sending the offer.
    await new Promise((resolve) => {
      if (pc.iceGatheringState === 'complete') return resolve();
      const done = () => { if (pc.iceGatheringState === 'complete') resolve(); };
      pc.addEventListener('icegatheringstatechange', done);
      setTimeout(resolve, 3000);
    });
    const answer = await createSession(pc.localDescription.sdp);
    session.location = answer.location;
    log(`session ${answer.id}`);
    await pc.setRemoteDescription({ type: 'answer', sdp: answer.sdp });
    ui.stop.disabled = false;
  } catch (e) {
    status.error = String(e);
    log(`could not start: ${e}`);
    ui.connection.textContent = `error: ${e.message || e}`;
    await stop();
  }
}

async function stop() {
  const s = session;
  session = null;
  if (s) {
    s.stops.forEach((f) => f());
    if (s.location) await deleteSession(s.location);
    s.pc.close();
    s.media.getTracks().forEach((t) => t.stop());
    s.context.close().catch(() => {});
  }
  ui.preview.hidden = true;
  ui.start.disabled = false;
  ui.stop.disabled = true;
  setTurnState('idle');
  status.pcState = 'closed';
}

ui.start.addEventListener('click', start);
ui.stop.addEventListener('click', stop);
document.addEventListener('keydown', (e) => {
  // Escape stops the assistant's reply (response.cancel).
  if (e.key === 'Escape' && session?.channel?.readyState === 'open') session.channel.send(cancelResponse());
});

fetch('/healthz').then((r) => r.json()).then((h) => {
  const lines = [`status: ${h.status}`, `version: ${h.version}`, `pipeline: ${h.pipeline}`,
    `sessions: ${h.sessions.active}/${h.sessions.max}`, `device: ${h.device} (${h.threads} threads)`,
    ...h.models.map((m) => `  ${m.present ? '✓' : '✗'} ${m.id} (${m.stage})`)];
  if (h.hint) lines.push('', h.hint);
  ui.health.textContent = lines.join('\n');
}).catch((e) => { ui.health.textContent = `health check failed: ${e}`; });
