//! Smoke tests on the real model store: every model loads and runs one tiny inference. Without the store they
//! skip with a printed reason on a developer machine and fail under CI (`parley_models::store::test_store`).

use candle_core::{Device, Tensor};
use candle_transformers::models::{quantized_llama, quantized_qwen2, whisper};
use parley_models::onnx;
use parley_models::store::test_store as store;
use std::path::Path;

fn input_names(session: &ort::session::Session) -> Vec<String> {
    session.inputs().iter().map(|i| i.name().to_string()).collect()
}

fn output_names(session: &ort::session::Session) -> Vec<String> {
    session.outputs().iter().map(|o| o.name().to_string()).collect()
}

#[test]
fn onnx_models_open_with_expected_io_and_run() {
    let Some(store) = store() else { return };
    let env = onnx::environment(&store).expect("ONNX Runtime loads from the store");

    // Silero VAD: 512 new samples + 64 of context, recurrent state, sample rate.
    let mut vad = onnx::open_session(env, &store.require("silero-vad", "silero_vad.onnx").unwrap(), 1).unwrap();
    assert_eq!(input_names(&vad), ["input", "state", "sr"]);
    assert_eq!(output_names(&vad), ["output", "stateN"]);
    let samples: Vec<f32> = (0..576).map(|i| (i as f32 * 0.05).sin() * 0.01).collect();
    let out = vad
        .run(ort::inputs![
            "input" => ort::value::Tensor::from_array(([1usize, 576], samples)).unwrap(),
            "state" => ort::value::Tensor::from_array(([2usize, 1, 128], vec![0f32; 256])).unwrap(),
            "sr" => ort::value::Tensor::from_array(((), vec![16000i64])).unwrap(),
        ])
        .unwrap();
    let (_, p) = out["output"].try_extract_tensor::<f32>().unwrap();
    assert!((0.0..=1.0).contains(&p[0]), "speech probability {}", p[0]);
    assert!(p[0] < 0.5, "a quiet tone is not speech: {}", p[0]);
    drop(out);

    // Smart Turn: [B, 80, 800] log-mel features → probability of a finished turn.
    let mut turn =
        onnx::open_session(env, &store.require("smart-turn", "smart-turn-v3.2-cpu.onnx").unwrap(), 1).unwrap();
    assert_eq!(input_names(&turn), ["input_features"]);
    let out = turn
        .run(ort::inputs!["input_features" => ort::value::Tensor::from_array(([1usize, 80, 800], vec![-1f32; 64000])).unwrap()])
        .unwrap();
    let (shape, logits) = out[0].try_extract_tensor::<f32>().unwrap();
    assert_eq!(shape.iter().copied().collect::<Vec<_>>(), [1, 1]);
    assert!(logits[0].is_finite());
    drop(out);

    // Speaker embedder: [B, 80, 40] mel window → 256-d embedding.
    let mut spk =
        onnx::open_session(env, &store.require("speaker-embedder", "embedder.int8.onnx").unwrap(), 1).unwrap();
    assert_eq!(input_names(&spk), ["mel_window"]);
    let mel: Vec<f32> = (0..3200).map(|i| ((i % 80) as f32 * 0.1).cos()).collect();
    let out = spk
        .run(ort::inputs!["mel_window" => ort::value::Tensor::from_array(([1usize, 80, 40], mel)).unwrap()])
        .unwrap();
    let (shape, emb) = out[0].try_extract_tensor::<f32>().unwrap();
    assert_eq!(shape.iter().copied().collect::<Vec<_>>(), [1, 256]);
    assert!(emb.iter().all(|v| v.is_finite()) && emb.iter().any(|v| *v != 0.0));
    drop(out);

    // Piper: phoneme ids → 22.05 kHz audio. Ids come from the voice's own phoneme map.
    let json_path = store.require("piper-joe", "en_US-joe-medium.onnx.json").unwrap();
    let voice: serde_json::Value = serde_json::from_slice(&std::fs::read(json_path).unwrap()).unwrap();
    assert_eq!(voice["audio"]["sample_rate"], 22050);
    let map = &voice["phoneme_id_map"];
    let id = |p: &str| map[p][0].as_i64().unwrap_or_else(|| panic!("no phoneme {p}"));
    let ids: Vec<i64> = ["^", "h", "ə", "l", "ˈoʊ", "$"]
        .iter()
        .flat_map(|p| {
            // Multi-character phonemes are sequences of single ones in Piper's map.
            if map.get(*p).is_some() { vec![id(p)] } else { p.chars().map(|c| id(&c.to_string())).collect() }
        })
        .collect();
    let mut tts = onnx::open_session(env, &store.require("piper-joe", "en_US-joe-medium.onnx").unwrap(), 1).unwrap();
    assert_eq!(input_names(&tts), ["input", "input_lengths", "scales"]);
    let n = ids.len();
    let out = tts
        .run(ort::inputs![
            "input" => ort::value::Tensor::from_array(([1usize, n], ids)).unwrap(),
            "input_lengths" => ort::value::Tensor::from_array(([1usize], vec![n as i64])).unwrap(),
            "scales" => ort::value::Tensor::from_array(([3usize], vec![0.667f32, 1.0, 0.8])).unwrap(),
        ])
        .unwrap();
    let (_, audio) = out[0].try_extract_tensor::<f32>().unwrap();
    assert!(audio.len() > 2205, "at least 0.1 s of audio, got {} samples", audio.len());
    let peak = audio.iter().fold(0f32, |m, v| m.max(v.abs()));
    assert!(peak > 0.01, "audible output, peak {peak}");
}

#[test]
fn whisper_safetensors_load_in_candle_and_decode_a_step() {
    let Some(store) = store() else { return };
    let dir = store.model_dir("whisper-tiny-en").unwrap();
    let config: whisper::Config =
        serde_json::from_slice(&std::fs::read(dir.join("config.json")).unwrap()).expect("candle reads config.json");
    assert_eq!((config.d_model, config.encoder_layers, config.vocab_size), (384, 4, 51864));
    let device = Device::Cpu;
    let vb = unsafe {
        candle_nn::VarBuilder::from_mmaped_safetensors(&[dir.join("model.safetensors")], whisper::DTYPE, &device)
            .unwrap()
    };
    let mut model = whisper::model::Whisper::load(&vb, config.clone()).expect("every tensor is where candle looks");

    let tokenizer = tokenizers::Tokenizer::from_file(dir.join("tokenizer.json")).unwrap();
    let token = |t: &str| tokenizer.token_to_id(t).unwrap_or_else(|| panic!("no token {t}"));
    let sot = token(whisper::SOT_TOKEN);
    let no_ts = token(whisper::NO_TIMESTAMPS_TOKEN);

    // 1 s of log-mel "silence" (Whisper's floor value), padded like a real utterance would be.
    let frames = 100;
    let mel = Tensor::full(-0.7f32, (1, config.num_mel_bins, frames), &device).unwrap();
    let audio_features = model.encoder.forward(&mel, true).unwrap();
    assert_eq!(audio_features.dims(), &[1, frames / 2, 384]);
    let tokens = Tensor::new(&[[sot, no_ts]], &device).unwrap();
    let hidden = model.decoder.forward(&tokens, &audio_features, true).unwrap();
    let logits = model.decoder.final_linear(&hidden).unwrap();
    assert_eq!(logits.dims(), &[1, 2, config.vocab_size]);
    let values: Vec<f32> = logits.flatten_all().unwrap().to_vec1().unwrap();
    assert!(values.iter().all(|v| v.is_finite()));
}

/// Greedy decoding of `prompt` for `n` tokens with a candle quantized model.
fn greedy(
    forward: &mut dyn FnMut(&Tensor, usize) -> candle_core::Result<Tensor>,
    tokenizer: &tokenizers::Tokenizer,
    prompt: &str,
    n: usize,
) -> String {
    let device = Device::Cpu;
    let mut ids = tokenizer.encode(prompt, false).unwrap().get_ids().to_vec();
    let prompt_len = ids.len();
    let mut pos = 0;
    for _ in 0..n {
        let input = Tensor::new(&ids[pos..], &device).unwrap().unsqueeze(0).unwrap();
        let logits = forward(&input, pos).unwrap().squeeze(0).unwrap();
        let logits = if logits.rank() == 2 { logits.get(logits.dim(0).unwrap() - 1).unwrap() } else { logits };
        let next = logits.argmax(0).unwrap().to_scalar::<u32>().unwrap();
        pos = ids.len();
        ids.push(next);
    }
    tokenizer.decode(&ids[prompt_len..], true).unwrap()
}

const QUESTION: &str =
    "<|im_start|>user\nWhat is the capital of France? Answer in one word.<|im_end|>\n<|im_start|>assistant\n";

fn open_gguf(path: &Path) -> (candle_core::quantized::gguf_file::Content, std::fs::File) {
    let mut file = std::fs::File::open(path).unwrap();
    let content = candle_core::quantized::gguf_file::Content::read(&mut file).unwrap();
    (content, file)
}

#[test]
fn smollm2_gguf_loads_and_its_tokenizer_matches_the_vocabulary() {
    let Some(store) = store() else { return };
    let dir = store.model_dir("smollm2-135m").unwrap();
    let tokenizer = tokenizers::Tokenizer::from_file(dir.join("tokenizer.json")).unwrap();
    let enc = tokenizer.encode("Hello world", false).unwrap();
    assert_eq!(enc.get_tokens(), ["Hello", "Ġworld"]);
    let enc = tokenizer.encode("<|im_start|>user", false).unwrap();
    assert_eq!(enc.get_ids()[0], 1, "<|im_start|> is token 1 in SmolLM2");
    let enc = tokenizer.encode("2024", false).unwrap();
    assert_eq!(enc.get_tokens(), ["2", "0", "2", "4"], "SmolLM splits digits");

    let (content, mut file) = open_gguf(&dir.join("model.gguf"));
    let mut model = quantized_llama::ModelWeights::from_gguf(content, &mut file, &Device::Cpu).unwrap();
    let reply = greedy(&mut |x, p| model.forward(x, p), &tokenizer, QUESTION, 6);
    assert!(reply.contains("Paris"), "SmolLM2 answered {reply:?}");
}

#[test]
fn qwen2_gguf_loads_and_answers() {
    let Some(store) = store() else { return };
    let dir = store.model_dir("qwen2.5-coder-1.5b").unwrap();
    let tokenizer = tokenizers::Tokenizer::from_file(dir.join("tokenizer.json")).unwrap();
    let enc = tokenizer.encode("<|im_start|>Hello world", false).unwrap();
    assert_eq!(enc.get_ids()[0], 151644, "<|im_start|> id in Qwen2.5");
    assert_eq!(&enc.get_tokens()[1..], ["Hello", "Ġworld"]);

    let (content, mut file) = open_gguf(&dir.join("model.gguf"));
    let mut model = quantized_qwen2::ModelWeights::from_gguf(content, &mut file, &Device::Cpu).unwrap();
    let reply = greedy(&mut |x, p| model.forward(x, p), &tokenizer, QUESTION, 4);
    assert!(reply.contains("Paris"), "Qwen answered {reply:?}");
}
