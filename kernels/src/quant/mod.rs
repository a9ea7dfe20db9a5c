//! Quantized weight matrices in ggml's block formats ([`QType`]: Q4_0, Q4_1, Q5_0, Q8_0, Q4_K, Q6_K) and
//! their products with `f32` activations, `out[i][r] = x[i] · W[r]`.
//!
//! A matrix keeps its GGUF bytes (no widening, so decode reads the file's bytes per token), except Q4_K
//! Q6_K and Q4_1 matrices of a multiple of 8 rows, which are stored with 8 rows interleaved ([`q4k_x8`], 2.8%
//! more bytes; [`q6k_x8`] and [`q4_1_x8`], the same bytes):
//! there one vector instruction serves 8 rows and a tile of 8 rows × 4 activation rows accumulates without
//! horizontal sums, which is what makes prompt chunks fast. A product quantizes the activations to int8 once ([`activations`]), then splits the weight rows
//! over the kernel thread pool ([`crate::parallel`]); each task walks its rows against tiles of up to
//! [`TILE_ROWS`] activation rows (a decode batch, or a slice of a prompt chunk small enough to stay in L1), and
//! each weight row is unpacked once per group of 4 activation rows ([`simd`]).
//!
//! Kernels are chosen once per matrix from the CPU's features: AVX-512 VNNI (+BW, VL), else AVX2 + FMA +
//! F16C, else the scalar twin in [`formats`]. All three give the same integer sums per block; they differ
//! only in the order `f32` partial sums are added. Measured error bounds against the `f32` product of the
//! dequantized weights are in the parity tests (`kernels/tests/quant_parity.rs`).

pub mod activations;
pub mod formats;
pub mod q4_1_x8;
pub mod q4k_x8;
pub mod q6k_x8;
#[cfg(target_arch = "x86_64")]
mod simd;

pub use activations::{BlockQ8A, BlockQ8K};
pub use formats::QType;

use crate::cpu::CpuFeatures;
use crate::parallel;

/// Activation rows per tile: a prompt chunk is processed this many positions at a time, so their
/// quantized activations (≤ 16 × 8960 bytes for the largest input width we run) stay in L1/L2 while every
/// weight row of a task passes over them.
pub const TILE_ROWS: usize = 16;

/// Which implementation a matrix uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernel {
    Scalar,
    Avx2,
    Avx512Vnni,
}

impl Kernel {
    /// The fastest this CPU runs.
    pub fn best() -> Kernel {
        let f = CpuFeatures::detect();
        #[cfg(target_arch = "x86_64")]
        {
            let f16c = std::arch::is_x86_feature_detected!("f16c");
            let vl = std::arch::is_x86_feature_detected!("avx512vl");
            if f.avx2 && f.fma && f16c {
                if f.avx512vnni && f.avx512bw && vl {
                    return Kernel::Avx512Vnni;
                }
                return Kernel::Avx2;
            }
        }
        let _ = f;
        Kernel::Scalar
    }

    /// Whether this CPU can run it.
    pub fn available(self) -> bool {
        matches!(
            (self, Kernel::best()),
            (Kernel::Scalar, _)
                | (Kernel::Avx2, Kernel::Avx2 | Kernel::Avx512Vnni)
                | (Kernel::Avx512Vnni, Kernel::Avx512Vnni)
        )
    }
}

/// Why a quantized matrix could not be built or used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum QuantError {
    #[error("{ty} rows must be a multiple of {block} values long, got {cols}")]
    RaggedRow { ty: QType, block: usize, cols: usize },
    #[error("a {rows}×{cols} {ty} matrix takes {expected} bytes, got {got}")]
    WrongSize { ty: QType, rows: usize, cols: usize, expected: usize, got: usize },
    #[error("activations of {got} values are not a whole number of {cols}-value rows")]
    WrongInput { cols: usize, got: usize },
    #[error("output of {got} values, expected {expected}")]
    WrongOutput { expected: usize, got: usize },
    #[error("stacked matrices differ: {0}")]
    Mismatch(String),
    #[error("the {0:?} kernel needs CPU features this machine lacks")]
    Unavailable(Kernel),
}

/// How a matrix's bytes are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// GGUF's: row after row of blocks.
    Gguf,
    /// Q4_1, Q4_K or Q6_K, 8 rows interleaved ([`q4_1_x8`], [`q4k_x8`], [`q6k_x8`]).
    Rows8,
}

/// A `rows × cols` weight matrix in one block format, rows of whole blocks.
#[derive(Debug, Clone)]
pub struct QMatrix {
    ty: QType,
    rows: usize,
    cols: usize,
    row_bytes: usize,
    layout: Layout,
    data: Vec<u8>,
    kernel: Kernel,
}

impl QMatrix {
    /// Wraps GGUF bytes of a `rows × cols` matrix of `ty`.
    pub fn from_ggml_bytes(ty: QType, rows: usize, cols: usize, bytes: &[u8]) -> Result<Self, QuantError> {
        let block = ty.block_values();
        if !cols.is_multiple_of(block) {
            return Err(QuantError::RaggedRow { ty, block, cols });
        }
        let row_bytes = cols / block * ty.block_bytes();
        if bytes.len() != rows * row_bytes {
            return Err(QuantError::WrongSize { ty, rows, cols, expected: rows * row_bytes, got: bytes.len() });
        }
        let layout = if rows8::fits(ty, rows) { Layout::Rows8 } else { Layout::Gguf };
        let data = match layout {
            Layout::Rows8 => rows8::interleave(ty, rows, cols / block, bytes),
            Layout::Gguf => bytes.to_vec(),
        };
        Ok(Self { ty, rows, cols, row_bytes, layout, data, kernel: Kernel::best() })
    }

    /// The same matrix in `layout` (for tests and comparisons); an error if the format or shape has no such
    /// layout.
    pub fn with_layout(self, layout: Layout) -> Result<Self, QuantError> {
        let data = match layout {
            _ if layout == self.layout => return Ok(self),
            Layout::Gguf => self.gguf_bytes(),
            Layout::Rows8 if rows8::fits(self.ty, self.rows) => {
                rows8::interleave(self.ty, self.rows, self.cols / self.ty.block_values(), &self.data)
            }
            Layout::Rows8 => {
                return Err(QuantError::Mismatch(format!(
                    "no {layout:?} layout for {} {}×{}",
                    self.ty, self.rows, self.cols
                )));
            }
        };
        Ok(Self { data, layout, ..self })
    }

    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// The matrix's bytes in GGUF's layout.
    pub fn gguf_bytes(&self) -> Vec<u8> {
        match self.layout {
            Layout::Gguf => self.data.clone(),
            Layout::Rows8 => {
                let mut out = vec![0u8; self.rows * self.row_bytes];
                for (r, row) in out.chunks_exact_mut(self.row_bytes).enumerate() {
                    self.gguf_row_into(r, row);
                }
                out
            }
        }
    }

    /// Row `r`'s GGUF bytes, into `out` (`row_bytes` long).
    fn gguf_row_into(&self, r: usize, out: &mut [u8]) {
        match self.layout {
            Layout::Gguf => out.copy_from_slice(&self.data[r * self.row_bytes..(r + 1) * self.row_bytes]),
            Layout::Rows8 => {
                let (nb, gb) = (self.cols / self.ty.block_values(), rows8::group_bytes(self.ty));
                let groups = &self.data[r / rows8::ROWS * nb * gb..][..nb * gb];
                for (g, o) in groups.chunks_exact(gb).zip(out.chunks_exact_mut(self.ty.block_bytes())) {
                    rows8::gguf_block(self.ty, g, r % rows8::ROWS, o);
                }
            }
        }
    }

    /// Quantizes an `f32` matrix (`rows × cols`, row-major) to Q8_0 with ggml's rounding.
    pub fn quantize_q8_0(rows: usize, cols: usize, values: &[f32]) -> Result<Self, QuantError> {
        if !cols.is_multiple_of(32) {
            return Err(QuantError::RaggedRow { ty: QType::Q8_0, block: 32, cols });
        }
        if values.len() != rows * cols {
            return Err(QuantError::WrongInput { cols, got: values.len() });
        }
        let mut blocks = vec![BlockQ8A::default(); values.len() / 32];
        activations::quantize_q8a(values, &mut blocks);
        let bytes: Vec<u8> = blocks
            .iter()
            .flat_map(|b| half::f16::from_f32(b.d).to_bits().to_le_bytes().into_iter().chain(b.qs.map(|q| q as u8)))
            .collect();
        Self::from_ggml_bytes(QType::Q8_0, rows, cols, &bytes)
    }

    /// One matrix with the rows of `parts` one after another (same format and width), so several products
    /// of the same input (q, k, v; gate, up) are one call.
    pub fn stack(parts: &[&QMatrix]) -> Result<Self, QuantError> {
        let Some(first) = parts.first() else { return Err(QuantError::Mismatch("nothing to stack".into())) };
        if let Some(p) = parts.iter().find(|p| p.ty != first.ty || p.cols != first.cols) {
            return Err(QuantError::Mismatch(format!("{} {}-wide and {} {}-wide", first.ty, first.cols, p.ty, p.cols)));
        }
        let rows = parts.iter().map(|p| p.rows).sum();
        if parts.iter().all(|p| p.layout == Layout::Rows8) {
            // Whole groups of 8 rows, one part after another, are the stacked matrix's groups.
            let mut data = Vec::with_capacity(parts.iter().map(|p| p.data.len()).sum());
            for p in parts {
                data.extend_from_slice(&p.data);
            }
            let (ty, cols, row_bytes, kernel) = (first.ty, first.cols, first.row_bytes, first.kernel);
            return Ok(Self { ty, rows, cols, row_bytes, layout: Layout::Rows8, data, kernel });
        }
        let mut data = Vec::with_capacity(rows * first.row_bytes);
        for p in parts {
            match p.layout {
                Layout::Gguf => data.extend_from_slice(&p.data),
                Layout::Rows8 => data.extend_from_slice(&p.gguf_bytes()),
            }
        }
        Self::from_ggml_bytes(first.ty, rows, first.cols, &data)
    }

    pub fn qtype(&self) -> QType {
        self.ty
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn cols(&self) -> usize {
        self.cols
    }

    /// The bytes as stored (what one product reads): GGUF's, or for [`Layout::Rows8`] the interleaved ones.
    pub fn bytes(&self) -> &[u8] {
        &self.data
    }

    pub fn kernel(&self) -> Kernel {
        self.kernel
    }

    /// Uses `kernel` (for tests and comparisons); an error if this CPU cannot run it.
    pub fn with_kernel(mut self, kernel: Kernel) -> Result<Self, QuantError> {
        if !kernel.available() {
            return Err(QuantError::Unavailable(kernel));
        }
        self.kernel = kernel;
        Ok(self)
    }

    /// Row `r`'s values.
    /// Row `r`'s values (`cols` of them), with no allocation: an embedding lookup.
    pub fn dequantize_row(&self, r: usize, out: &mut [f32]) {
        let (block, bb) = (self.ty.block_values(), self.ty.block_bytes());
        match self.layout {
            Layout::Gguf => {
                let row = &self.data[r * self.row_bytes..(r + 1) * self.row_bytes];
                for (b, o) in row.chunks_exact(bb).zip(out.chunks_exact_mut(block)) {
                    formats::dequantize_block(self.ty, b, o);
                }
            }
            Layout::Rows8 => {
                let (nb, gb) = (self.cols / block, rows8::group_bytes(self.ty));
                let groups = &self.data[r / rows8::ROWS * nb * gb..][..nb * gb];
                let mut gguf = [0u8; 256];
                for (g, o) in groups.chunks_exact(gb).zip(out.chunks_exact_mut(block)) {
                    rows8::gguf_block(self.ty, g, r % rows8::ROWS, &mut gguf[..bb]);
                    formats::dequantize_block(self.ty, &gguf[..bb], o);
                }
            }
        }
    }

    /// Every value, row-major.
    pub fn dequantize(&self) -> Vec<f32> {
        let mut out = vec![0f32; self.rows * self.cols];
        for (r, o) in out.chunks_exact_mut(self.cols).enumerate() {
            self.dequantize_row(r, o);
        }
        out
    }

    /// `out[i][r] = x[i] · row r` for every row `x[i]` of `x` (`m × cols`, row-major); `out` is `m × rows`.
    pub fn matmul(&self, x: &[f32], out: &mut [f32]) -> Result<(), QuantError> {
        if self.cols == 0 || !x.len().is_multiple_of(self.cols) {
            return Err(QuantError::WrongInput { cols: self.cols, got: x.len() });
        }
        let m = x.len() / self.cols;
        if out.len() != m * self.rows {
            return Err(QuantError::WrongOutput { expected: m * self.rows, got: out.len() });
        }
        thread_local! {
            static Q8A: std::cell::RefCell<Vec<BlockQ8A>> = const { std::cell::RefCell::new(Vec::new()) };
            static Q8K: std::cell::RefCell<Vec<BlockQ8K>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        let nb = self.cols / self.ty.block_values();
        if self.ty.is_k_quant() {
            Q8K.with(|cell| {
                let acts = &mut *cell.borrow_mut();
                acts.resize(m * nb, BlockQ8K::default());
                activations::quantize_q8k(x, acts);
                match self.layout {
                    Layout::Rows8 => self.run_rows8(acts, m, nb, out),
                    Layout::Gguf => self.run(acts, m, nb, out),
                }
            });
        } else {
            Q8A.with(|cell| {
                let acts = &mut *cell.borrow_mut();
                acts.resize(m * nb, BlockQ8A::default());
                activations::quantize_q8a(x, acts);
                match self.layout {
                    Layout::Rows8 => self.run_rows8(acts, m, nb, out),
                    Layout::Gguf => self.run(acts, m, nb, out),
                }
            });
        }
        Ok(())
    }

    fn run<A: Act>(&self, acts: &[A], m: usize, nb: usize, out: &mut [f32]) {
        let pool = parallel::pool();
        // Rows per task: enough tasks to balance the threads, each big enough to amortise the hand-off.
        let work_per_row = m.max(1);
        let per_task = (self.rows / (4 * pool.threads())).clamp(1, (256 / work_per_row).max(4));
        let tasks = self.rows.div_ceil(per_task);
        let out_ptr = SharedOut(out.as_mut_ptr());
        pool.run(tasks, |task| {
            let rows = task * per_task..self.rows.min((task + 1) * per_task);
            let out = out_ptr;
            for tile in (0..m).step_by(TILE_ROWS) {
                let end = m.min(tile + TILE_ROWS);
                let mut i = tile;
                while i < end {
                    let n = (end - i).min(4);
                    // SAFETY: each task writes only the columns `rows` of the activation rows `i .. i + n` of
                    // `out` (disjoint across tasks), which holds `m × self.rows` values (checked by `matmul`).
                    unsafe {
                        let o = out.0.add(i * self.rows);
                        match n {
                            4 => A::rows::<4>(self, rows.clone(), acts, i, nb, o),
                            3 => A::rows::<3>(self, rows.clone(), acts, i, nb, o),
                            2 => A::rows::<2>(self, rows.clone(), acts, i, nb, o),
                            _ => A::rows::<1>(self, rows.clone(), acts, i, nb, o),
                        }
                    }
                    i += n;
                }
            }
        });
    }
}

impl QMatrix {
    /// [`QMatrix::run`] for [`Layout::Rows8`]: tasks own whole groups of 8 rows; each walks tiles of
    /// [`TILE_ROWS`] activation rows, and within a tile each group meets 4 activation rows at a time.
    fn run_rows8<A: Act>(&self, acts: &[A], m: usize, nb: usize, out: &mut [f32]) {
        let pool = parallel::pool();
        let groups = self.rows / rows8::ROWS;
        let per_task = (groups / (4 * pool.threads())).clamp(1, (64 / m.max(1)).max(2));
        let tasks = groups.div_ceil(per_task);
        let out_ptr = SharedOut(out.as_mut_ptr());
        pool.run(tasks, |task| {
            let mine = task * per_task..groups.min((task + 1) * per_task);
            let out = out_ptr;
            match self.kernel {
                #[cfg(target_arch = "x86_64")]
                Kernel::Avx2 | Kernel::Avx512Vnni => {
                    for tile in (0..m).step_by(TILE_ROWS) {
                        let end = m.min(tile + TILE_ROWS);
                        let mut i = tile;
                        while i < end {
                            let n = (end - i).min(4);
                            let a = |j: usize| acts[(i + j.min(n - 1)) * nb..].as_ptr();
                            let w = self.data.as_ptr();
                            // SAFETY: the kernel was checked available; groups hold `nb` blocks, activation
                            // rows `nb` blocks; each task writes only its groups' columns of rows `i .. i + n`.
                            unsafe {
                                let o = out.0.add(i * self.rows);
                                let g = mine.clone();
                                let (ty, r) = (self.ty, self.rows);
                                match n {
                                    4 => A::rows8::<4>(ty, w, g, [a(0), a(1), a(2), a(3)], nb, o, r),
                                    3 => A::rows8::<3>(ty, w, g, [a(0), a(1), a(2)], nb, o, r),
                                    2 => A::rows8::<2>(ty, w, g, [a(0), a(1)], nb, o, r),
                                    _ => A::rows8::<1>(ty, w, g, [a(0)], nb, o, r),
                                }
                            }
                            i += n;
                        }
                    }
                }
                _ => {
                    let mut row = vec![0u8; self.row_bytes];
                    for r in mine.start * rows8::ROWS..mine.end * rows8::ROWS {
                        self.gguf_row_into(r, &mut row);
                        for i in 0..m {
                            let y = A::scalar(self.ty, &row, &acts[i * nb..(i + 1) * nb]);
                            // SAFETY: each task writes only its own rows' columns.
                            unsafe { *out.0.add(i * self.rows + r) = y };
                        }
                    }
                }
            }
        });
    }
}

/// An activation block type and the kernels that take it: weight rows `rows` (whole rows of `nb` blocks at
/// `w`, `row_bytes` apart) against `RA` activation rows of `nb` blocks, written to `out[j · stride + r]`.
///
/// # Safety (of the SIMD kernels)
/// The CPU has the kernel's features; the pointers cover those rows and blocks; `out` is writable at those
/// places and no other thread writes them.
trait Act: Sized + Sync {
    /// The SIMD kernel `kernel` (AVX2 or AVX-512 VNNI).
    #[cfg(target_arch = "x86_64")]
    #[allow(clippy::too_many_arguments)]
    unsafe fn simd<const RA: usize>(
        kernel: Kernel,
        ty: QType,
        w: *const u8,
        row_bytes: usize,
        rows: std::ops::Range<usize>,
        a: [*const Self; RA],
        nb: usize,
        out: *mut f32,
        stride: usize,
    );
    /// The SIMD kernel of `ty`'s 8-row interleaved layout: groups of 8 rows against `RA` activation rows,
    /// `out[j · stride + 8g + r]`.
    #[cfg(target_arch = "x86_64")]
    #[allow(clippy::too_many_arguments)]
    unsafe fn rows8<const RA: usize>(
        ty: QType,
        w: *const u8,
        groups: std::ops::Range<usize>,
        a: [*const Self; RA],
        nb: usize,
        out: *mut f32,
        stride: usize,
    );
    /// The scalar twin: one weight row against one activation row.
    fn scalar(ty: QType, row: &[u8], act: &[Self]) -> f32;

    /// Weight rows `rows` of `m` against activation rows `i .. i + RA` (`nb` blocks each), written to
    /// `out[j · m.rows + r]`, on `m`'s kernel.
    ///
    /// # Safety
    /// `out` must be writable at those places and no other thread may write them.
    unsafe fn rows<const RA: usize>(
        m: &QMatrix,
        rows: std::ops::Range<usize>,
        acts: &[Self],
        i: usize,
        nb: usize,
        out: *mut f32,
    ) {
        let a: [&[Self]; RA] = std::array::from_fn(|j| &acts[(i + j) * nb..(i + j + 1) * nb]);
        match m.kernel {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the kernel was checked available; rows are whole rows of `nb` blocks, activation rows
            // `nb` blocks; the caller's contract on `out`.
            Kernel::Avx512Vnni | Kernel::Avx2 => unsafe {
                let w = m.data.as_ptr();
                Self::simd(m.kernel, m.ty, w, m.row_bytes, rows, a.map(|r| r.as_ptr()), nb, out, m.rows)
            },
            _ => {
                for r in rows {
                    let row = &m.data[r * m.row_bytes..(r + 1) * m.row_bytes];
                    for (j, act) in a.iter().enumerate() {
                        // SAFETY: the caller's contract on `out`.
                        unsafe { *out.add(j * m.rows + r) = Self::scalar(m.ty, row, act) };
                    }
                }
            }
        }
    }
}

/// Implements [`Act`] for an activation block type with its kernels (`simd::{avx2, vnni}::$simd`).
macro_rules! act {
    ($block:ty, $simd:ident, $rows8:path, $scalar:path) => {
        impl Act for $block {
            #[cfg(target_arch = "x86_64")]
            unsafe fn simd<const RA: usize>(
                kernel: Kernel,
                ty: QType,
                w: *const u8,
                row_bytes: usize,
                rows: std::ops::Range<usize>,
                a: [*const Self; RA],
                nb: usize,
                out: *mut f32,
                stride: usize,
            ) {
                // SAFETY: the trait's contract.
                unsafe {
                    match kernel {
                        Kernel::Avx512Vnni => simd::vnni::$simd(ty, w, row_bytes, rows, a, nb, out, stride),
                        _ => simd::avx2::$simd(ty, w, row_bytes, rows, a, nb, out, stride),
                    }
                }
            }

            #[cfg(target_arch = "x86_64")]
            unsafe fn rows8<const RA: usize>(
                ty: QType,
                w: *const u8,
                groups: std::ops::Range<usize>,
                a: [*const Self; RA],
                nb: usize,
                out: *mut f32,
                stride: usize,
            ) {
                // SAFETY: the trait's contract.
                unsafe { $rows8(ty, w, groups, a, nb, out, stride) }
            }

            fn scalar(ty: QType, row: &[u8], act: &[Self]) -> f32 {
                $scalar(ty, row, act)
            }
        }
    };
}

act!(BlockQ8A, rows32, rows8::groups32, formats::dot_row_scalar_32);
act!(BlockQ8K, rowsk, rows8::groups, formats::dot_row_scalar_k);

/// The 8-row interleaved layouts, by format.
mod rows8 {
    use super::{BlockQ8A, BlockQ8K, QType, q4_1_x8, q4k_x8, q6k_x8};

    pub const ROWS: usize = 8;

    /// Whether a `ty` matrix of `rows` rows is stored interleaved.
    pub fn fits(ty: QType, rows: usize) -> bool {
        matches!(ty, QType::Q4_1 | QType::Q4_K | QType::Q6_K) && rows.is_multiple_of(ROWS)
    }

    pub fn group_bytes(ty: QType) -> usize {
        match ty {
            QType::Q4_1 => q4_1_x8::GROUP_BYTES,
            QType::Q4_K => q4k_x8::GROUP_BYTES,
            _ => q6k_x8::GROUP_BYTES,
        }
    }

    pub fn interleave(ty: QType, rows: usize, nb: usize, gguf: &[u8]) -> Vec<u8> {
        match ty {
            QType::Q4_1 => q4_1_x8::interleave(rows, nb, gguf),
            QType::Q4_K => q4k_x8::interleave(rows, nb, gguf),
            _ => q6k_x8::interleave(rows, nb, gguf),
        }
    }

    /// Row `r` of the interleaved block `group`, as GGUF's block, into `out`.
    pub fn gguf_block(ty: QType, group: &[u8], r: usize, out: &mut [u8]) {
        match ty {
            QType::Q4_1 => out.copy_from_slice(&q4_1_x8::gguf_block(group, r)),
            QType::Q4_K => out.copy_from_slice(&q4k_x8::gguf_block(group, r)),
            _ => out.copy_from_slice(&q6k_x8::gguf_block(group, r)),
        }
    }

    /// The AVX2 kernel of the 32-value format `ty` (see `q4_1_x8::avx2::groups`).
    ///
    /// # Safety
    /// As that kernel's.
    #[cfg(target_arch = "x86_64")]
    pub unsafe fn groups32<const RA: usize>(
        ty: QType,
        w: *const u8,
        groups: std::ops::Range<usize>,
        a: [*const BlockQ8A; RA],
        nb: usize,
        out: *mut f32,
        stride: usize,
    ) {
        debug_assert_eq!(ty, QType::Q4_1);
        // SAFETY: the caller's contract.
        unsafe { q4_1_x8::avx2::groups(w, groups, a, nb, out, stride) }
    }

    /// The AVX2 kernel of `ty` (see `q4k_x8::avx2::groups`).
    ///
    /// # Safety
    /// As that kernel's.
    #[cfg(target_arch = "x86_64")]
    pub unsafe fn groups<const RA: usize>(
        ty: QType,
        w: *const u8,
        groups: std::ops::Range<usize>,
        a: [*const BlockQ8K; RA],
        nb: usize,
        out: *mut f32,
        stride: usize,
    ) {
        // SAFETY: the caller's contract.
        unsafe {
            if ty == QType::Q4_K {
                q4k_x8::avx2::groups(w, groups, a, nb, out, stride)
            } else {
                q6k_x8::avx2::groups(w, groups, a, nb, out, stride)
            }
        }
    }
}

#[derive(Clone, Copy)]
struct SharedOut(*mut f32);
// SAFETY: tasks write disjoint elements (see `QMatrix::run`).
unsafe impl Send for SharedOut {}
unsafe impl Sync for SharedOut {}
