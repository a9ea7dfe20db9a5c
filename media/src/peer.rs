//! A WebRTC peer session on webrtc-rs: one audio track each way (Opus), an optional incoming video track, and
//! the `events` data channel. Callers see only parley's types: [`PeerSession`] to answer (server) or offer
//! (client/harness), [`MediaEvent`]s on a bounded channel (decoded 16 kHz [`AudioFrame`]s with media time,
//! connection state, data-channel text), [`AudioOutput`] to speak, and [`PeerSession::send_text`].
//!
//! ICE is non-trickle: the SDP returned carries every candidate. Candidates come only from the configured
//! addresses ([`PeerConfig::ice_ips`]; `127.0.0.1` keeps every connectivity check on loopback), plus STUN/TURN
//! servers and a NAT 1:1 public address when configured.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use rtc::media::Sample;
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::media_engine::{MIME_TYPE_OPUS, MIME_TYPE_VP8};
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use webrtc::data_channel::{DataChannel, DataChannelEvent};
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_local::static_sample::TrackLocalStaticSample;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{
    MediaEngine, PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCConfigurationBuilder,
    RTCIceCandidateType, RTCIceGatheringState, RTCIceServer, RTCPeerConnectionState, RTCSessionDescription, Registry,
    SettingEngineBuilder, register_default_interceptors,
};
use webrtc::rtp_transceiver::RtpSender;

use crate::audio_frame::AudioFrame;
use crate::audio_input::{AudioInput, AudioInputStats, ReceivedFrame};
use crate::audio_output::{AudioOutput, PacketSink};
use crate::video::{VideoConfig, VideoFrame, VideoReceiver, VideoRequest};

/// The data channel carrying the JSON protocol.
pub const EVENTS_CHANNEL: &str = "events";
const EVENT_QUEUE: usize = 512;
const OPUS_PT: u8 = 111;
const VP8_PT: u8 = 96;

/// A STUN or TURN server.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IceServer {
    pub urls: Vec<String>,
    pub username: String,
    pub credential: String,
}

/// How sessions connect.
#[derive(Debug, Clone, PartialEq)]
pub struct PeerConfig {
    /// Local addresses to gather host candidates on; empty = every non-loopback interface.
    pub ice_ips: Vec<IpAddr>,
    pub ice_servers: Vec<IceServer>,
    /// Public addresses to advertise instead of the local ones (a server behind 1:1 NAT).
    pub public_ips: Vec<String>,
    /// No ICE traffic for this long: disconnected.
    pub ice_disconnected_timeout: Duration,
    /// Disconnected for this long: failed (the session ends).
    pub ice_failed_timeout: Duration,
    /// Packets held by the incoming jitter buffer before playing starts (20 ms each).
    pub jitter_depth: usize,
    /// Rate of the speech pushed to [`AudioOutput`].
    pub output_rate: u32,
    pub video: VideoConfig,
}

impl Default for PeerConfig {
    fn default() -> Self {
        Self {
            ice_ips: Vec::new(),
            ice_servers: Vec::new(),
            public_ips: Vec::new(),
            ice_disconnected_timeout: Duration::from_secs(5),
            ice_failed_timeout: Duration::from_secs(25),
            jitter_depth: 2,
            output_rate: 16_000,
            video: VideoConfig::default(),
        }
    }
}

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// ICE or DTLS gave up (the peer vanished or never reached us).
    Failed,
    /// Closed by either side.
    Closed,
}

/// What a session reports.
#[derive(Debug, Clone)]
pub enum MediaEvent {
    /// ICE and DTLS are up: media flows.
    Connected,
    /// No ICE traffic for a while; may recover.
    Disconnected,
    /// A 20 ms 16 kHz mono frame and when its first packet arrived.
    Audio { frame: AudioFrame, received: Instant },
    /// A decoded video frame (sampled at the configured rate).
    Video(VideoFrame),
    /// The `events` data channel opened.
    ChannelOpen,
    /// A text message on the `events` data channel.
    Message(String),
    /// The session is over.
    Closed(CloseReason),
}

/// Errors setting up a session; the message says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("the offer is not valid SDP: {0}")]
    BadSdp(String),
    #[error("the offer has no audio m-line; parley needs one (sendrecv, Opus)")]
    NoAudio,
    #[error("the offer's audio has no Opus codec; parley speaks Opus only")]
    NoOpus,
    #[error("WebRTC setup failed: {0}")]
    Setup(String),
    #[error("ICE gathering did not finish within {0:?}")]
    GatheringTimeout(Duration),
    #[error("the data channel is not open")]
    ChannelNotOpen,
}

fn setup<E: std::fmt::Display>(e: E) -> MediaError {
    MediaError::Setup(e.to_string())
}

/// One WebRTC connection. Dropping it does not close it: call [`PeerSession::close`].
pub struct PeerSession {
    pc: Arc<dyn PeerConnection>,
    shared: Arc<Shared>,
    output: AudioOutput,
    local_sdp: String,
}

/// The outgoing audio track: its sender (for the negotiated payload type), the track, its SSRC.
type OutgoingAudio = (Arc<dyn RtpSender>, Arc<TrackLocalStaticSample>, u32);

struct Shared {
    events: mpsc::Sender<MediaEvent>,
    channel: Mutex<Option<Arc<dyn DataChannel>>>,
    sink: Mutex<Option<oneshot::Sender<TrackSink>>>,
    sender: Mutex<Option<OutgoingAudio>>,
    gathered: tokio::sync::Notify,
    input_stats: Mutex<AudioInputStats>,
    epoch: Instant,
    jitter_depth: usize,
    video: VideoConfig,
}

impl PeerSession {
    /// Server side: answers a remote offer. Returns the session, its events, and (via
    /// [`local_sdp`](Self::local_sdp)) the answer with every candidate.
    pub async fn answer(
        config: &PeerConfig,
        offer_sdp: &str,
    ) -> Result<(Self, mpsc::Receiver<MediaEvent>), MediaError> {
        check_offer(offer_sdp)?;
        let offer =
            RTCSessionDescription::offer(offer_sdp.to_string()).map_err(|e| MediaError::BadSdp(e.to_string()))?;
        let (mut session, events) = Self::build(config).await?;
        session.pc.set_remote_description(offer).await.map_err(|e| MediaError::BadSdp(e.to_string()))?;
        let answer = session.pc.create_answer(None).await.map_err(setup)?;
        session.pc.set_local_description(answer).await.map_err(setup)?;
        session.local_sdp = session.gathered_sdp().await?;
        Ok((session, events))
    }

    /// Client side: an offer with audio both ways and the `events` data channel; send
    /// [`local_sdp`](Self::local_sdp) to the server, then [`accept_answer`](Self::accept_answer).
    pub async fn offer(config: &PeerConfig) -> Result<(Self, mpsc::Receiver<MediaEvent>), MediaError> {
        let (mut session, events) = Self::build(config).await?;
        let channel = session.pc.create_data_channel(EVENTS_CHANNEL, None).await.map_err(setup)?;
        watch_channel(session.shared.clone(), channel);
        let offer = session.pc.create_offer(None).await.map_err(setup)?;
        session.pc.set_local_description(offer).await.map_err(setup)?;
        session.local_sdp = session.gathered_sdp().await?;
        Ok((session, events))
    }

    /// Client side: the server's answer.
    pub async fn accept_answer(&self, answer_sdp: &str) -> Result<(), MediaError> {
        let answer =
            RTCSessionDescription::answer(answer_sdp.to_string()).map_err(|e| MediaError::BadSdp(e.to_string()))?;
        self.pc.set_remote_description(answer).await.map_err(|e| MediaError::BadSdp(e.to_string()))
    }

    /// This side's SDP (offer or answer) with its candidates.
    pub fn local_sdp(&self) -> &str {
        &self.local_sdp
    }

    /// Where to push speech for the peer.
    pub fn audio_output(&self) -> &AudioOutput {
        &self.output
    }

    /// Asks for the next decoded video frame now (besides the sampled ones).
    pub fn video_request(&self) -> VideoRequest {
        self.shared.video.request.clone()
    }

    /// Incoming audio counters (jitter, loss, FEC, concealment).
    pub fn input_stats(&self) -> AudioInputStats {
        *self.shared.input_stats.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sends one text message on the `events` channel.
    pub async fn send_text(&self, text: &str) -> Result<(), MediaError> {
        let channel = self.shared.channel.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let channel = channel.ok_or(MediaError::ChannelNotOpen)?;
        channel.send_text(text).await.map_err(|_| MediaError::ChannelNotOpen)
    }

    /// Closes the connection (idempotent).
    pub async fn close(&self) {
        if let Err(e) = self.pc.close().await {
            tracing::debug!("closing the peer connection: {e}");
        }
    }

    async fn build(config: &PeerConfig) -> Result<(Self, mpsc::Receiver<MediaEvent>), MediaError> {
        let mut media = MediaEngine::default();
        let opus = RTCRtpCodec {
            mime_type: MIME_TYPE_OPUS.to_owned(),
            clock_rate: 48_000,
            channels: 2,
            sdp_fmtp_line: "minptime=10;useinbandfec=1".to_owned(),
            rtcp_feedback: vec![],
        };
        media
            .register_codec(
                RTCRtpCodecParameters { rtp_codec: opus.clone(), payload_type: OPUS_PT },
                RtpCodecKind::Audio,
            )
            .map_err(setup)?;
        let vp8 = RTCRtpCodec {
            mime_type: MIME_TYPE_VP8.to_owned(),
            clock_rate: 90_000,
            channels: 0,
            sdp_fmtp_line: String::new(),
            rtcp_feedback: vec![],
        };
        media
            .register_codec(RTCRtpCodecParameters { rtp_codec: vp8, payload_type: VP8_PT }, RtpCodecKind::Video)
            .map_err(setup)?;
        let registry = register_default_interceptors(Registry::new(), &mut media).map_err(setup)?;

        let ice_servers = config
            .ice_servers
            .iter()
            .map(|s| RTCIceServer {
                urls: s.urls.clone(),
                username: s.username.clone(),
                credential: s.credential.clone(),
            })
            .collect();
        let rtc_config = RTCConfigurationBuilder::new().with_ice_servers(ice_servers).build();
        let mut settings = SettingEngineBuilder::new().with_ice_timeouts(
            Some(config.ice_disconnected_timeout),
            Some(config.ice_failed_timeout),
            Some(Duration::from_secs(2).min(config.ice_disconnected_timeout / 2)),
        );
        if config.ice_ips.iter().any(|ip| ip.is_loopback()) {
            settings = settings.with_include_loopback_candidate(true);
        }
        if !config.public_ips.is_empty() {
            settings = settings.with_nat_1to1_ips(config.public_ips.clone(), RTCIceCandidateType::Host);
        }
        let addrs: Vec<SocketAddr> = if config.ice_ips.is_empty() {
            vec![SocketAddr::from(([0, 0, 0, 0], 0))]
        } else {
            config.ice_ips.iter().map(|ip| SocketAddr::new(*ip, 0)).collect()
        };

        let (events_tx, events) = mpsc::channel(EVENT_QUEUE);
        let (sink_tx, sink_rx) = oneshot::channel();
        let shared = Arc::new(Shared {
            events: events_tx,
            channel: Mutex::new(None),
            sink: Mutex::new(Some(sink_tx)),
            sender: Mutex::new(None),
            gathered: tokio::sync::Notify::new(),
            input_stats: Mutex::new(AudioInputStats::default()),
            epoch: Instant::now(),
            jitter_depth: config.jitter_depth,
            video: config.video.clone(),
        });
        let pc = PeerConnectionBuilder::new()
            .with_configuration(rtc_config)
            .with_media_engine(media)
            .with_setting_engine(settings.build())
            .with_interceptor_registry(registry)
            .with_handler(Arc::new(Handler(shared.clone())))
            .with_udp_addrs(addrs)
            .build()
            .await
            .map_err(setup)?;
        let pc: Arc<dyn PeerConnection> = Arc::new(pc);

        let ssrc: u32 = rand_ssrc();
        let track = Arc::new(
            TrackLocalStaticSample::new(
                std::time::Instant::now(),
                MediaStreamTrack::new(
                    "parley".to_owned(),
                    "parley-audio".to_owned(),
                    "parley-audio".to_owned(),
                    RtpCodecKind::Audio,
                    vec![RTCRtpEncodingParameters {
                        rtp_coding_parameters: RTCRtpCodingParameters { ssrc: Some(ssrc), ..Default::default() },
                        codec: opus,
                        ..Default::default()
                    }],
                ),
            )
            .map_err(setup)?,
        );
        let sender = pc.add_track(Arc::clone(&track) as Arc<dyn TrackLocal>).await.map_err(setup)?;
        *shared.sender.lock().unwrap_or_else(|p| p.into_inner()) = Some((sender, track, ssrc));
        let output = AudioOutput::spawn(config.output_rate, sink_rx).map_err(MediaError::Setup)?;
        Ok((Self { pc, shared, output, local_sdp: String::new() }, events))
    }

    async fn gathered_sdp(&self) -> Result<String, MediaError> {
        const GATHER_TIMEOUT: Duration = Duration::from_secs(5);
        let gathered = self.shared.gathered.notified();
        let done = tokio::time::timeout(GATHER_TIMEOUT, gathered).await.is_ok();
        let sdp = self.pc.local_description().await.map(|d| d.sdp).unwrap_or_default();
        if !done && !sdp.contains("a=candidate") {
            return Err(MediaError::GatheringTimeout(GATHER_TIMEOUT));
        }
        Ok(sdp)
    }
}

/// Cheap checks that give a clear message before webrtc-rs sees the offer.
fn check_offer(sdp: &str) -> Result<(), MediaError> {
    let sdp = sdp.trim_start();
    if !sdp.starts_with("v=0") {
        return Err(MediaError::BadSdp("it must start with `v=0`".into()));
    }
    let mut in_audio = false;
    let mut has_audio = false;
    let mut has_opus = false;
    for line in sdp.lines() {
        if let Some(m) = line.strip_prefix("m=") {
            in_audio = m.starts_with("audio ");
            has_audio |= in_audio;
        } else if in_audio
            && line.to_ascii_lowercase().starts_with("a=rtpmap:")
            && line.to_ascii_lowercase().contains(" opus/48000")
        {
            has_opus = true;
        }
    }
    if !has_audio {
        return Err(MediaError::NoAudio);
    }
    if !has_opus {
        return Err(MediaError::NoOpus);
    }
    Ok(())
}

fn rand_ssrc() -> u32 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::time::SystemTime::now()) as u32 | 1
}

/// Packets to the WebRTC track, stamped with the negotiated payload type.
struct TrackSink {
    track: Arc<TrackLocalStaticSample>,
    ssrc: u32,
    payload_type: u8,
}

impl PacketSink for TrackSink {
    async fn send(&mut self, packet: Bytes) -> Result<(), String> {
        let sample =
            Sample { data: packet, duration: Duration::from_millis(20), ..Sample::new(std::time::Instant::now()) };
        match self.track.sample_writer(self.ssrc, self.payload_type).write_sample(&sample).await {
            Ok(()) => Ok(()),
            // A full send queue or a transient state: drop this packet, keep going.
            Err(e) if !e.to_string().contains("closed") => {
                tracing::trace!("audio packet not sent: {e}");
                Ok(())
            }
            Err(e) => Err(e.to_string()),
        }
    }
}

struct Handler(Arc<Shared>);

impl Shared {
    fn emit(&self, event: MediaEvent) {
        if let Err(mpsc::error::TrySendError::Full(event)) = self.events.try_send(event) {
            // The consumer fell behind: audio frames are dropped (counted), control events wait.
            if matches!(event, MediaEvent::Audio { .. } | MediaEvent::Video(_)) {
                metrics::counter!("parley_media_events_dropped_total").increment(1);
            } else {
                let events = self.events.clone();
                tokio::spawn(async move {
                    let _ = events.send(event).await;
                });
            }
        }
    }
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            self.0.gathered.notify_one();
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        tracing::debug!("peer connection {state}");
        match state {
            RTCPeerConnectionState::Connected => {
                let sender = self.0.sender.lock().unwrap_or_else(|p| p.into_inner()).clone();
                if let Some((sender, track, ssrc)) = sender {
                    let payload_type = match sender.get_parameters().await {
                        Ok(p) => p.rtp_parameters.codecs.first().map_or(OPUS_PT, |c| c.payload_type),
                        Err(_) => OPUS_PT,
                    };
                    if let Some(tx) = self.0.sink.lock().unwrap_or_else(|p| p.into_inner()).take() {
                        let _ = tx.send(TrackSink { track, ssrc, payload_type });
                    }
                }
                self.0.emit(MediaEvent::Connected);
            }
            RTCPeerConnectionState::Disconnected => self.0.emit(MediaEvent::Disconnected),
            RTCPeerConnectionState::Failed => self.0.emit(MediaEvent::Closed(CloseReason::Failed)),
            RTCPeerConnectionState::Closed => self.0.emit(MediaEvent::Closed(CloseReason::Closed)),
            _ => {}
        }
    }

    async fn on_data_channel(&self, channel: Arc<dyn DataChannel>) {
        if channel.label().await.is_ok_and(|l| l == EVENTS_CHANNEL) {
            watch_channel(self.0.clone(), channel);
        } else {
            tracing::debug!("ignoring a data channel that is not `{EVENTS_CHANNEL}`");
        }
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        match track.kind().await {
            RtpCodecKind::Audio => {
                tokio::spawn(receive_audio(self.0.clone(), track));
            }
            RtpCodecKind::Video => {
                tokio::spawn(receive_video(self.0.clone(), track));
            }
            _ => {}
        }
    }
}

fn watch_channel(shared: Arc<Shared>, channel: Arc<dyn DataChannel>) {
    tokio::spawn(async move {
        while let Some(event) = channel.poll().await {
            match event {
                DataChannelEvent::OnOpen => {
                    *shared.channel.lock().unwrap_or_else(|p| p.into_inner()) = Some(channel.clone());
                    shared.emit(MediaEvent::ChannelOpen);
                }
                DataChannelEvent::OnMessage(message) => {
                    shared.emit(MediaEvent::Message(String::from_utf8_lossy(&message.data).into_owned()));
                }
                DataChannelEvent::OnClose => break,
                _ => {}
            }
        }
    });
}

async fn receive_audio(shared: Arc<Shared>, track: Arc<dyn TrackRemote>) {
    let mut input = match AudioInput::new(shared.jitter_depth) {
        Ok(input) => input,
        Err(e) => {
            tracing::error!("{e}");
            return;
        }
    };
    let mut frames = Vec::new();
    let mut last_stats = Instant::now();
    while let Some(event) = track.poll().await {
        let TrackRemoteEvent::OnRtpPacket(packet) = event else { continue };
        let now = Instant::now();
        let arrival_s = (now - shared.epoch).as_secs_f64();
        input.push_packet(
            packet.header.sequence_number,
            packet.header.timestamp,
            &packet.payload,
            arrival_s,
            &mut frames,
        );
        for ReceivedFrame { frame, arrival_s } in frames.drain(..) {
            let received = shared.epoch + Duration::from_secs_f64(arrival_s);
            shared.emit(MediaEvent::Audio { frame, received });
        }
        if now - last_stats >= Duration::from_secs(1) {
            last_stats = now;
            let stats = input.stats();
            *shared.input_stats.lock().unwrap_or_else(|p| p.into_inner()) = stats;
            metrics::gauge!("parley_audio_in_jitter_ms").set(stats.jitter.jitter / 48.0);
        }
    }
    let stats = input.stats();
    *shared.input_stats.lock().unwrap_or_else(|p| p.into_inner()) = stats;
    metrics::counter!("parley_audio_in_lost_total").increment(stats.jitter.lost);
    metrics::counter!("parley_audio_in_fec_recovered_total").increment(stats.recovered_fec);
    metrics::counter!("parley_audio_in_concealed_total").increment(stats.concealed);
}

async fn receive_video(shared: Arc<Shared>, track: Arc<dyn TrackRemote>) {
    let sink = shared.clone();
    let mut receiver = VideoReceiver::spawn(shared.video.clone(), move |frame| sink.emit(MediaEvent::Video(frame)));
    let ssrc = track.ssrcs().await.first().copied().unwrap_or(0);
    let mut last_pli: Option<Instant> = None;
    while let Some(event) = track.poll().await {
        let TrackRemoteEvent::OnRtpPacket(packet) = event else { continue };
        let now = Instant::now();
        let now_ms = (now - shared.epoch).as_millis() as u64;
        let h = &packet.header;
        receiver.push_packet(h.sequence_number, &packet.payload, h.marker, h.timestamp, now_ms);
        // Waiting for a key frame: ask the sender for one, at most once a second.
        if receiver.needs_key_frame() && last_pli.is_none_or(|t| now - t >= Duration::from_secs(1)) {
            last_pli = Some(now);
            let pli = PictureLossIndication { sender_ssrc: 0, media_ssrc: ssrc };
            let _ = track.write_rtcp(vec![Box::new(pli)]).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offers_without_audio_or_opus_are_refused_with_reasons() {
        assert!(matches!(check_offer("hello"), Err(MediaError::BadSdp(_))));
        let video_only = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 VP8/90000\r\n";
        assert!(matches!(check_offer(video_only), Err(MediaError::NoAudio)));
        let pcmu = "v=0\r\ns=-\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=rtpmap:0 PCMU/8000\r\n";
        assert!(matches!(check_offer(pcmu), Err(MediaError::NoOpus)));
        let opus = "v=0\r\ns=-\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\n";
        assert!(check_offer(opus).is_ok());
    }
}
