//! VP8 decoding with libvpx (Debian's `libvpx-dev`), to RGB. The only FFI in this crate besides Opus: each
//! `unsafe` block calls libvpx with a context this type owns, and an image pointer is read only before the
//! next decode call, as libvpx documents.

use std::ptr;

use vpx_sys as vpx;

/// A decoded picture in packed RGB (8 bits per channel, row-major, no padding).
#[derive(Debug, Clone, PartialEq)]
pub struct RgbImage {
    pub width: u32,
    pub height: u32,
    pub rgb: Vec<u8>,
}

/// A libvpx VP8 decoder.
pub struct Vp8Decoder {
    ctx: vpx::vpx_codec_ctx_t,
}

// The context is used from one thread at a time (`&mut self`).
unsafe impl Send for Vp8Decoder {}

/// libvpx refused to start or to decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("VP8 decoder: {0}")]
pub struct Vp8Error(pub String);

impl Vp8Decoder {
    pub fn new() -> Result<Self, Vp8Error> {
        // SAFETY: a zeroed context is what vpx_codec_dec_init_ver expects; the config outlives the call.
        unsafe {
            let mut ctx: vpx::vpx_codec_ctx_t = std::mem::zeroed();
            let cfg = vpx::vpx_codec_dec_cfg_t { threads: 1, w: 0, h: 0 };
            let err = vpx::vpx_codec_dec_init_ver(
                &mut ctx,
                vpx::vpx_codec_vp8_dx(),
                &cfg,
                0,
                vpx::VPX_DECODER_ABI_VERSION as i32,
            );
            if err != vpx::VPX_CODEC_OK {
                return Err(Vp8Error(format!("init failed ({err:?})")));
            }
            Ok(Self { ctx })
        }
    }

    /// Decodes one whole VP8 frame. When `convert` is set, returns the picture in RGB (conversion is the
    /// expensive part; every frame must still be decoded to keep the reference frames right).
    pub fn decode(&mut self, frame: &[u8], convert: bool) -> Result<Option<RgbImage>, Vp8Error> {
        if frame.is_empty() {
            return Ok(None);
        }
        // SAFETY: the context is initialised; `frame` is valid for the call; the image returned by
        // get_frame stays valid until the next decode, and we copy out of it before returning.
        unsafe {
            let err = vpx::vpx_codec_decode(&mut self.ctx, frame.as_ptr(), frame.len() as u32, ptr::null_mut(), 0);
            if err != vpx::VPX_CODEC_OK {
                return Err(Vp8Error(format!("corrupt or undecodable frame ({err:?})")));
            }
            let mut iter: vpx::vpx_codec_iter_t = ptr::null();
            let mut out = None;
            loop {
                let img = vpx::vpx_codec_get_frame(&mut self.ctx, &mut iter);
                if img.is_null() {
                    break;
                }
                if convert {
                    out = Some(i420_to_rgb(&*img)?);
                }
            }
            Ok(out)
        }
    }
}

impl Drop for Vp8Decoder {
    fn drop(&mut self) {
        // SAFETY: initialised in `new`, destroyed once.
        unsafe {
            vpx::vpx_codec_destroy(&mut self.ctx);
        }
    }
}

/// BT.601 limited-range YUV 4:2:0 → RGB.
///
/// # Safety
/// `img` must be a valid I420 image from libvpx whose planes cover `d_w × d_h`.
unsafe fn i420_to_rgb(img: &vpx::vpx_image_t) -> Result<RgbImage, Vp8Error> {
    if img.fmt != vpx::vpx_img_fmt::VPX_IMG_FMT_I420 {
        return Err(Vp8Error(format!("unexpected picture format {:?}", img.fmt)));
    }
    let (w, h) = (img.d_w as usize, img.d_h as usize);
    let mut rgb = vec![0u8; w * h * 3];
    let (ys, us, vs) = (img.stride[0] as usize, img.stride[1] as usize, img.stride[2] as usize);
    for y in 0..h {
        // SAFETY: rows y (and y/2 for chroma) lie inside the planes per the caller's contract.
        let (yrow, urow, vrow) = unsafe {
            (
                std::slice::from_raw_parts(img.planes[0].add(y * ys), w),
                std::slice::from_raw_parts(img.planes[1].add((y / 2) * us), w.div_ceil(2)),
                std::slice::from_raw_parts(img.planes[2].add((y / 2) * vs), w.div_ceil(2)),
            )
        };
        let out = &mut rgb[y * w * 3..(y + 1) * w * 3];
        for x in 0..w {
            let c = (yrow[x] as f32 - 16.0) * 1.164;
            let d = urow[x / 2] as f32 - 128.0;
            let e = vrow[x / 2] as f32 - 128.0;
            out[x * 3] = (c + 1.596 * e).round().clamp(0.0, 255.0) as u8;
            out[x * 3 + 1] = (c - 0.392 * d - 0.813 * e).round().clamp(0.0, 255.0) as u8;
            out[x * 3 + 2] = (c + 2.017 * d).round().clamp(0.0, 255.0) as u8;
        }
    }
    Ok(RgbImage { width: w as u32, height: h as u32, rgb })
}

/// Test support: a libvpx VP8 encoder for synthetic pictures.
#[cfg(test)]
pub(crate) mod test_encoder {
    use super::*;

    pub struct Vp8Encoder {
        ctx: vpx::vpx_codec_ctx_t,
        img: vpx::vpx_image_t,
        pts: i64,
    }

    impl Vp8Encoder {
        pub fn new(width: u32, height: u32) -> Self {
            unsafe {
                let mut cfg = std::mem::MaybeUninit::<vpx::vpx_codec_enc_cfg_t>::uninit();
                assert_eq!(
                    vpx::vpx_codec_enc_config_default(vpx::vpx_codec_vp8_cx(), cfg.as_mut_ptr(), 0),
                    vpx::VPX_CODEC_OK
                );
                let mut cfg = cfg.assume_init();
                cfg.g_w = width;
                cfg.g_h = height;
                cfg.g_timebase.num = 1;
                cfg.g_timebase.den = 30;
                cfg.rc_target_bitrate = 1000;
                cfg.g_lag_in_frames = 0;
                let mut ctx: vpx::vpx_codec_ctx_t = std::mem::zeroed();
                assert_eq!(
                    vpx::vpx_codec_enc_init_ver(
                        &mut ctx,
                        vpx::vpx_codec_vp8_cx(),
                        &cfg,
                        0,
                        vpx::VPX_ENCODER_ABI_VERSION as i32
                    ),
                    vpx::VPX_CODEC_OK
                );
                let mut img: vpx::vpx_image_t = std::mem::zeroed();
                assert!(!vpx::vpx_img_alloc(&mut img, vpx::vpx_img_fmt::VPX_IMG_FMT_I420, width, height, 1).is_null());
                Self { ctx, img, pts: 0 }
            }
        }

        /// Encodes a flat picture of one YUV colour; returns the frame bitstream.
        pub fn encode_flat(&mut self, y: u8, u: u8, v: u8) -> Vec<u8> {
            unsafe {
                let (w, h) = (self.img.d_w as usize, self.img.d_h as usize);
                for (plane, value, rows) in [(0, y, h), (1, u, h.div_ceil(2)), (2, v, h.div_ceil(2))] {
                    let stride = self.img.stride[plane] as usize;
                    for r in 0..rows {
                        std::ptr::write_bytes(self.img.planes[plane].add(r * stride), value, stride);
                    }
                }
                let _ = w;
                assert_eq!(vpx::vpx_codec_encode(&mut self.ctx, &self.img, self.pts, 1, 0, 1), vpx::VPX_CODEC_OK);
                self.pts += 1;
                let mut iter: vpx::vpx_codec_iter_t = ptr::null();
                let mut out = Vec::new();
                loop {
                    let pkt = vpx::vpx_codec_get_cx_data(&mut self.ctx, &mut iter);
                    if pkt.is_null() {
                        break;
                    }
                    if (*pkt).kind == vpx::vpx_codec_cx_pkt_kind::VPX_CODEC_CX_FRAME_PKT {
                        let frame = (*pkt).data.frame;
                        out.extend_from_slice(std::slice::from_raw_parts(frame.buf as *const u8, frame.sz as usize));
                    }
                }
                out
            }
        }
    }

    impl Drop for Vp8Encoder {
        fn drop(&mut self) {
            unsafe {
                vpx::vpx_img_free(&mut self.img);
                vpx::vpx_codec_destroy(&mut self.ctx);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_encoder::Vp8Encoder;
    use super::*;

    #[test]
    fn encoded_colours_decode_to_rgb() {
        let mut enc = Vp8Encoder::new(64, 48);
        let mut dec = Vp8Decoder::new().unwrap();
        // BT.601 limited: pure red ≈ (81, 90, 240), green ≈ (145, 54, 34), grey (126, 128, 128).
        for (yuv, rgb) in
            [((81, 90, 240), (255, 0, 0)), ((145, 54, 34), (0, 255, 0)), ((126, 128, 128), (128, 128, 128))]
        {
            let frame = enc.encode_flat(yuv.0, yuv.1, yuv.2);
            let img = dec.decode(&frame, true).unwrap().expect("a picture");
            assert_eq!((img.width, img.height), (64, 48));
            let px = &img.rgb[(24 * 64 + 32) * 3..][..3];
            for (got, want) in px.iter().zip([rgb.0, rgb.1, rgb.2]) {
                assert!((*got as i32 - want).abs() <= 12, "{px:?} vs {rgb:?}");
            }
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_crash() {
        let mut dec = Vp8Decoder::new().unwrap();
        assert!(dec.decode(&[0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09], true).is_err());
        assert_eq!(dec.decode(&[], true).unwrap(), None);
    }
}
