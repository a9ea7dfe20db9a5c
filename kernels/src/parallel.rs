//! A small spinning thread pool for the many short parallel loops of a decode step.
//!
//! One decode step of a small model is a few hundred matrix products of 50–500 µs each. Handing each to
//! rayon wakes a sleeping worker through the kernel every time (measured: ~15% of a batched decode step in
//! `sched_yield`/futex paths). Here the workers spin for a short while after each job, so the next job of
//! the same step starts within nanoseconds, and park after [`SPIN`] without work so an idle server burns no
//! CPU. The caller runs tasks too. Only one job runs at a time: a caller that finds the pool busy (another
//! model's executor on another thread) runs its tasks itself instead of waiting.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How long an idle worker spins before parking.
const SPIN: Duration = Duration::from_micros(200);

/// Sets the calling thread's scheduling niceness (-20 most favoured … 19 least; 0 is the default). Raising
/// a thread above the default needs privileges (`CAP_SYS_NICE`); without them this returns the OS error and
/// nothing changes. Only Linux gives threads their own niceness; elsewhere it is an `Unsupported` error.
pub fn set_current_thread_nice(nice: i32) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: plain system calls on the calling thread's id.
        let result = unsafe {
            let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
            libc::setpriority(libc::PRIO_PROCESS, tid, nice)
        };
        if result == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = nice;
        Err(std::io::Error::new(std::io::ErrorKind::Unsupported, "per-thread niceness needs Linux"))
    }
}

static POOL: OnceLock<SpinPool> = OnceLock::new();
static REQUESTED_THREADS: AtomicUsize = AtomicUsize::new(0);

/// The process-wide pool: [`set_threads`] threads (the caller's included), by default one per core.
pub fn pool() -> &'static SpinPool {
    POOL.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let threads = match REQUESTED_THREADS.load(Ordering::Acquire) {
            0 => cores,
            n => n,
        };
        SpinPool::new(threads.max(1) - 1)
    })
}

/// Sets how many threads [`pool`] will use; false (and no effect) once the pool exists.
pub fn set_threads(threads: usize) -> bool {
    REQUESTED_THREADS.store(threads, Ordering::Release);
    POOL.get().is_none()
}

/// See the module docs.
pub struct SpinPool {
    shared: &'static Shared,
    workers: usize,
    submit: Mutex<()>,
}

struct Shared {
    /// The current job's generation (high 24 bits), task count (middle 20 bits) and next unclaimed task (low
    /// 20 bits), in one word so that a claim is checked against the count of its own job.
    state: AtomicU64,
    /// The current job: its closure's data pointer and its trampoline.
    data: AtomicUsize,
    call: AtomicUsize,
    /// Tasks of the current job finished.
    done: AtomicUsize,
    /// Workers parked (or about to park) on `wake`.
    sleepers: AtomicUsize,
    lock: Mutex<()>,
    wake: Condvar,
}

impl SpinPool {
    fn new(workers: usize) -> Self {
        let shared: &'static Shared = Box::leak(Box::new(Shared {
            state: AtomicU64::new(0),
            data: AtomicUsize::new(0),
            call: AtomicUsize::new(0),
            done: AtomicUsize::new(0),
            sleepers: AtomicUsize::new(0),
            lock: Mutex::new(()),
            wake: Condvar::new(),
        }));
        for i in 0..workers {
            std::thread::Builder::new()
                .name(format!("parley-kernel-{i}"))
                .spawn(move || worker(shared))
                .expect("spawning a kernel worker thread");
        }
        Self { shared, workers, submit: Mutex::new(()) }
    }

    /// Threads that run a job's tasks (the workers and the caller).
    pub fn threads(&self) -> usize {
        self.workers + 1
    }

    /// Runs `f(0) … f(tasks - 1)`, spread over the pool, and returns when all have run.
    pub fn run<F: Fn(usize) + Sync>(&self, tasks: usize, f: F) {
        let guard = if self.workers == 0 || tasks <= 1 { None } else { self.submit.try_lock().ok() };
        let Some(_guard) = guard else {
            (0..tasks).for_each(f);
            return;
        };
        if tasks > MAX_TASKS {
            (0..tasks).for_each(f);
            return;
        }
        let s = self.shared;
        s.data.store(&f as *const F as usize, Ordering::Relaxed);
        s.call.store(trampoline::<F> as *const () as usize, Ordering::Relaxed);
        s.done.store(0, Ordering::Relaxed);
        let generation = (generation_of(s.state.load(Ordering::Relaxed)) + 1) & GENERATION_MASK;
        s.state.store(generation << 40 | (tasks as u64) << 20, Ordering::SeqCst);
        if s.sleepers.load(Ordering::SeqCst) > 0 {
            let _l = s.lock.lock().unwrap_or_else(|e| e.into_inner());
            s.wake.notify_all();
        }
        // Take tasks like any worker, then wait for the ones others took.
        while let Some(task) = claim(s, generation) {
            f(task);
            s.done.fetch_add(1, Ordering::AcqRel);
        }
        while s.done.load(Ordering::Acquire) < tasks {
            std::hint::spin_loop();
        }
    }
}

const MAX_TASKS: usize = (1 << 20) - 1;
const GENERATION_MASK: u64 = (1 << 24) - 1;

fn generation_of(state: u64) -> u64 {
    state >> 40
}

impl SpinPool {
    /// Runs `f` on every element of `items`, spread over the pool (each element is visited by one thread).
    pub fn for_each_mut<T: Send, F: Fn(&mut T) + Sync>(&self, items: &mut [T], f: F) {
        let base = SharedSlice(items.as_mut_ptr());
        let len = items.len();
        self.run(len, |i| {
            let base = &base;
            debug_assert!(i < len);
            // SAFETY: `run` calls each task index exactly once, so each element is borrowed mutably by one
            // thread at a time, and `items` outlives `run`.
            f(unsafe { &mut *base.0.add(i) })
        });
    }
}

struct SharedSlice<T>(*mut T);
// SAFETY: used only by `for_each_mut`, which hands out disjoint elements of a `Send` type.
unsafe impl<T: Send> Sync for SharedSlice<T> {}

/// Claims the next task of `generation`, if that job is still current and has one left.
fn claim(s: &Shared, generation: u64) -> Option<usize> {
    let mut state = s.state.load(Ordering::Acquire);
    loop {
        let task = (state & MAX_TASKS as u64) as usize;
        let tasks = ((state >> 20) & MAX_TASKS as u64) as usize;
        if generation_of(state) != generation || task >= tasks {
            return None;
        }
        match s.state.compare_exchange_weak(state, state + 1, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => return Some(task),
            Err(now) => state = now,
        }
    }
}

unsafe fn trampoline<F: Fn(usize)>(data: usize, task: usize) {
    // SAFETY: `data` points at the `F` of the job whose task this worker claimed; `run` keeps it alive until
    // every claimed task is done.
    let f = unsafe { &*(data as *const F) };
    f(task);
}

fn worker(s: &'static Shared) {
    let mut seen = 0u64;
    loop {
        // Wait for a new generation: spin, then park.
        let spin_start = Instant::now();
        let mut spins = 0u32;
        let generation = loop {
            let g = generation_of(s.state.load(Ordering::Acquire));
            if g != seen {
                break g;
            }
            spins += 1;
            if spins.is_multiple_of(256) && spin_start.elapsed() > SPIN {
                let mut l = s.lock.lock().unwrap_or_else(|e| e.into_inner());
                s.sleepers.fetch_add(1, Ordering::SeqCst);
                while generation_of(s.state.load(Ordering::SeqCst)) == seen {
                    l = s.wake.wait(l).unwrap_or_else(|e| e.into_inner());
                }
                s.sleepers.fetch_sub(1, Ordering::SeqCst);
                drop(l);
                continue;
            }
            std::hint::spin_loop();
        };
        seen = generation;
        // Read the job, then claim tasks; a successful claim proves the job was current when read (its caller
        // waits for that task before publishing another job).
        let data = s.data.load(Ordering::Acquire);
        let call = s.call.load(Ordering::Acquire);
        while let Some(task) = claim(s, generation) {
            // SAFETY: `call` is the trampoline for the closure at `data`, stored together by `run`.
            let call: unsafe fn(usize, usize) = unsafe { std::mem::transmute(call as *const ()) };
            unsafe { call(data, task) };
            s.done.fetch_add(1, Ordering::AcqRel);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_task_runs_exactly_once_across_many_jobs() {
        let pool = SpinPool::new(2);
        for tasks in [0, 1, 2, 3, 17, 1000] {
            for _ in 0..50 {
                let hits: Vec<AtomicUsize> = (0..tasks).map(|_| AtomicUsize::new(0)).collect();
                pool.run(tasks, |i| {
                    hits[i].fetch_add(1, Ordering::Relaxed);
                });
                assert!(hits.iter().all(|h| h.load(Ordering::Relaxed) == 1), "{tasks} tasks");
            }
        }
    }

    #[test]
    fn for_each_mut_visits_every_element_once() {
        let pool = SpinPool::new(1);
        let mut items: Vec<usize> = (0..100).collect();
        pool.for_each_mut(&mut items, |x| *x *= 2);
        assert_eq!(items, (0..100).map(|x| x * 2).collect::<Vec<_>>());
    }

    #[test]
    fn concurrent_callers_and_parked_workers_still_finish() {
        let pool = SpinPool::new(1);
        std::thread::scope(|scope| {
            for _ in 0..3 {
                scope.spawn(|| {
                    for round in 0..200 {
                        let sum = AtomicUsize::new(0);
                        pool.run(64, |i| {
                            sum.fetch_add(i, Ordering::Relaxed);
                        });
                        assert_eq!(sum.load(Ordering::Relaxed), 64 * 63 / 2);
                        if round % 50 == 0 {
                            // Long enough for the worker to park.
                            std::thread::sleep(Duration::from_millis(2));
                        }
                    }
                });
            }
        });
    }
}
