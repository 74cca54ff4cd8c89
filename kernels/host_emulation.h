// Host emulation of the CUDA execution model, for the tests and the CUDA host emulator
// (`cuda/emulator/`); common.cuh includes it when TS_HOST_EMULATION is defined, and NVRTC never
// sees it. The system C++ compiler builds a kernel module with it, and `ts_host_launch` runs a
// launch the way the GPU would: block after block, each block's threads as fibers on the
// calling thread. A fiber runs until it reaches __syncthreads, a warp shuffle or its end; when
// no fiber can run, the scheduler releases the barrier that every waiting thread has reached.
// So shared memory, barriers, shuffles and atomics between threads behave as written, and what
// a GPU leaves undefined is an error instead of a silent result:
//   - a shuffle that reads a lane that does not exist or has returned;
//   - threads that wait at different barriers with none able to go on (a deadlock);
//   - a block of more than 1024 threads.
// The order is deterministic: thread 0 (or, in reverse order, the last thread) runs ahead of
// the others up to its first barrier, so a read of shared memory that lacks a barrier sees the
// value from before the write; the two orders catch a missing barrier in either direction.
#pragma once
#include <cmath>
#include <cstdio>
#include <cstring>
#include <sys/mman.h>
#if !defined(__x86_64__) || defined(TS_HOST_UCONTEXT)
#include <ucontext.h>
#endif

#define __global__
#define __device__
#define __forceinline__ inline
// Blocks run one at a time, so one static copy per kernel is the block's shared memory.
#define __shared__ static

struct ts_dim3 { unsigned x, y, z; };
// The running thread's coordinates, set by the scheduler before it switches to a fiber.
static ts_dim3 blockIdx = {0, 0, 0}, threadIdx = {0, 0, 0}, blockDim = {1, 1, 1}, gridDim = {1, 1, 1};

namespace ts_host {

const unsigned MAX_THREADS = 1024;
const size_t STACK_BYTES = 256 << 10;

enum State { RUNNABLE, AT_BARRIER, AT_SHUFFLE_WRITE, AT_SHUFFLE_READ, EXITED };

#if defined(__x86_64__) && !defined(TS_HOST_UCONTEXT)
// A switch saves the callee-saved registers on the running stack and its stack pointer in
// `*from`, then resumes the stack at `to`. glibc's swapcontext also saves the signal mask, a
// system call per switch that took most of the tests' time.
typedef void* Context;
extern "C" void ts_host_switch(Context* from, Context to);
asm(R"(
    .text
    .hidden ts_host_switch
    .globl ts_host_switch
    .type ts_host_switch, @function
ts_host_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size ts_host_switch, .-ts_host_switch
)");
static void switch_context(Context* from, Context* to) { ts_host_switch(from, *to); }
// A context that starts `entry` on `stack`: the six registers the switch pops, then `entry` as
// the address it returns to, then a null return address for `entry`, which never returns.
static void make_context(Context* c, char* stack, size_t bytes, void (*entry)()) {
    void** top = (void**)(((unsigned long)(stack + bytes)) & ~15ul);
    top[-1] = nullptr;
    top[-2] = (void*)entry;
    for (int r = 3; r <= 8; r++) top[-r] = nullptr;
    *c = (void*)(top - 8);
}
#else
typedef ucontext_t Context;
static void switch_context(Context* from, Context* to) { swapcontext(from, to); }
static void make_context(Context* c, char* stack, size_t bytes, void (*entry)()) {
    getcontext(c);
    c->uc_stack.ss_sp = stack;
    c->uc_stack.ss_size = bytes;
    c->uc_link = nullptr;
    makecontext(c, entry, 0);
}
#endif

struct Fiber {
    Context context;
    State state;
    char* stack;
};

struct Launch {
    Fiber fibers[MAX_THREADS];
    unsigned threads, current;
    // Whether the last thread runs first (else thread 0 does).
    bool reverse;
    Context scheduler;
    void (*body)(void*);
    void* body_context;
    // A shuffle's values, one 8-byte slot per thread, and whether the slot was written in the
    // shuffle now under way.
    unsigned long long slots[MAX_THREADS];
    bool written[MAX_THREADS];
    char error[512];
};

static Launch launch_state;

static void fail(const char* what) {
    Launch& l = launch_state;
    if (l.error[0] == 0) {
        snprintf(l.error, sizeof l.error, "block (%u, %u, %u), thread %u: %s", blockIdx.x, blockIdx.y, blockIdx.z,
                 l.current, what);
    }
}

static void fiber_main() {
    Launch& l = launch_state;
    l.body(l.body_context);
    l.fibers[l.current].state = EXITED;
    switch_context(&l.fibers[l.current].context, &l.scheduler);  // never resumed
}

// Suspends the running thread in `state` until the scheduler releases it.
static void wait_in(State state) {
    Launch& l = launch_state;
    Fiber& f = l.fibers[l.current];
    f.state = state;
    switch_context(&f.context, &l.scheduler);
}

static void set_thread(unsigned t) {
    launch_state.current = t;
    threadIdx.x = t % blockDim.x;
    threadIdx.y = t / blockDim.x % blockDim.y;
    threadIdx.z = t / (blockDim.x * blockDim.y);
}

// When every thread of [first, end) that has not returned waits in `state`, releases them.
// Returns whether it did.
static bool release_if_all(unsigned first, unsigned end, State state) {
    Launch& l = launch_state;
    unsigned waiting = 0, live = 0;
    for (unsigned t = first; t < end; t++) {
        if (l.fibers[t].state == EXITED) continue;
        live++;
        waiting += l.fibers[t].state == state;
    }
    if (live == 0 || waiting != live) return false;
    for (unsigned t = first; t < end; t++) {
        if (l.fibers[t].state == state) l.fibers[t].state = RUNNABLE;
    }
    return true;
}

// Runs one block to its end; false on a deadlock (the error says where the threads wait).
static bool run_block() {
    Launch& l = launch_state;
    for (unsigned t = 0; t < l.threads; t++) {
        Fiber& f = l.fibers[t];
        if (!f.stack) {
            f.stack = (char*)mmap(nullptr, STACK_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
            if (f.stack == MAP_FAILED) {
                f.stack = nullptr;
                fail("no memory for a fiber stack");
                return false;
            }
            mprotect(f.stack, 4096, PROT_NONE);  // a guard page: overflow faults at once
        }
        make_context(&f.context, f.stack, STACK_BYTES, fiber_main);
        f.state = RUNNABLE;
        l.written[t] = false;
    }
    for (;;) {
        bool ran = false;
        for (unsigned i = 0; i < l.threads; i++) {
            unsigned t = l.reverse ? l.threads - 1 - i : i;
            if (l.fibers[t].state != RUNNABLE) continue;
            set_thread(t);
            switch_context(&l.scheduler, &l.fibers[t].context);
            ran = true;
        }
        if (ran) continue;
        bool released = release_if_all(0, l.threads, AT_BARRIER);
        for (unsigned w = 0; w * 32 < l.threads; w++) {
            unsigned first = w * 32, end = first + 32 < l.threads ? first + 32 : l.threads;
            released |= release_if_all(first, end, AT_SHUFFLE_WRITE);
            if (release_if_all(first, end, AT_SHUFFLE_READ)) {
                released = true;
                for (unsigned t = first; t < end; t++) l.written[t] = false;
            }
        }
        if (released) continue;
        unsigned exited = 0, barrier = 0, shuffle = 0;
        for (unsigned t = 0; t < l.threads; t++) {
            State s = l.fibers[t].state;
            exited += s == EXITED;
            barrier += s == AT_BARRIER;
            shuffle += s == AT_SHUFFLE_WRITE || s == AT_SHUFFLE_READ;
        }
        if (exited == l.threads) return true;
        char what[160];
        snprintf(what, sizeof what, "deadlock: %u threads wait at __syncthreads, %u at a warp shuffle, %u returned",
                 barrier, shuffle, exited);
        fail(what);
        return false;
    }
}

// Exchanges `bytes` (at most 8) of `value` with the lane `source` of the same warp, as
// __shfl_xor_sync does.
static void exchange(void* value, unsigned bytes, unsigned source) {
    Launch& l = launch_state;
    unsigned self = l.current, warp_first = self & ~31u;
    memcpy(&l.slots[self], value, bytes);
    l.written[self] = true;
    wait_in(AT_SHUFFLE_WRITE);
    unsigned from = warp_first + source;
    if (from >= l.threads || !l.written[from]) {
        char what[160];
        snprintf(what, sizeof what, "a warp shuffle reads lane %u, which %s", source,
                 from >= l.threads ? "the block does not have" : "has returned");
        fail(what);
    } else {
        memcpy(value, &l.slots[from], bytes);
    }
    // The slots stay until every lane of the warp has read.
    wait_in(AT_SHUFFLE_READ);
}

}  // namespace ts_host

// Runs `body` (which calls one kernel) as each thread of a launch of `grid` blocks of `block`
// threads, the threads of a block taken from the first or, when `reverse`, from the last.
// Returns 0, or 1 with the reason in `error` (a NUL-terminated message). The caller
// runs one launch at a time in the whole process: the static locals of inline functions (the
// block reductions' shared memory) may be one object across every loaded module.
extern "C" int ts_host_launch(unsigned grid, unsigned block, int reverse, void (*body)(void*), void* body_context,
                              char* error, unsigned long error_bytes) {
    using namespace ts_host;
    Launch& l = launch_state;
    l.error[0] = 0;
    if (block == 0 || block > MAX_THREADS || grid == 0) {
        snprintf(l.error, sizeof l.error, "a launch of %u blocks of %u threads (1 to %u threads per block)", grid,
                 block, MAX_THREADS);
    } else {
        l.threads = block;
        l.reverse = reverse != 0;
        l.body = body;
        l.body_context = body_context;
        blockDim = {block, 1, 1};
        gridDim = {grid, 1, 1};
        for (unsigned b = 0; b < grid && l.error[0] == 0; b++) {
            blockIdx = {b, 0, 0};
            run_block();
        }
        blockDim = {1, 1, 1};
        gridDim = {1, 1, 1};
    }
    snprintf(error, error_bytes, "%s", l.error);
    return l.error[0] != 0;
}

static inline void __syncthreads() { ts_host::wait_in(ts_host::AT_BARRIER); }
template <typename T> static inline T __shfl_xor_sync(unsigned, T v, int lane_mask) {
    static_assert(sizeof(T) <= 8, "shuffles move at most 8 bytes");
    ts_host::exchange(&v, sizeof(T), (ts_host::launch_state.current & 31u) ^ (unsigned)lane_mask);
    return v;
}

// One OS thread runs every fiber and switches only at barriers and shuffles, so a plain
// read-modify-write is atomic.
template <typename T> static inline T atomicAdd(T* p, T v) { T old = *p; *p = old + v; return old; }
template <typename T> static inline T atomicExch(T* p, T v) { T old = *p; *p = v; return old; }
template <typename T> static inline T atomicMin(T* p, T v) { T old = *p; if (v < old) *p = v; return old; }
static inline unsigned atomicCAS(unsigned* p, unsigned cmp, unsigned v) { unsigned old = *p; if (old == cmp) *p = v; return old; }

static inline float __uint_as_float(unsigned u) { float f; memcpy(&f, &u, 4); return f; }
static inline unsigned __float_as_uint(float f) { unsigned u; memcpy(&u, &f, 4); return u; }
static inline float __int_as_float(int u) { float f; memcpy(&f, &u, 4); return f; }
static inline double __longlong_as_double(long long u) { double f; memcpy(&f, &u, 8); return f; }

// IEEE half from a double, rounding to nearest even (what PTX cvt.rn does).
static inline unsigned short ts_host_to_f16(double d) {
    unsigned short sign = std::signbit(d) ? 0x8000 : 0;
    if (d != d) return sign | 0x7e00;
    double a = std::fabs(d);
    if (a >= 65520.0) return sign | 0x7c00;
    if (a < 6.103515625e-05) return sign | (unsigned short)std::nearbyint(a * 16777216.0);
    int e;
    std::frexp(a, &e);
    int E = e - 1;
    double q = std::nearbyint(std::ldexp(a, 10 - E));
    if (q >= 2048.0) { q = 1024.0; E += 1; }
    if (E + 15 >= 31) return sign | 0x7c00;
    return sign | (unsigned short)(((E + 15) << 10) | ((int)q - 1024));
}
static inline float ts_host_from_f16(unsigned short h) {
    int e = (h >> 10) & 0x1f, m = h & 0x3ff;
    double v = e == 0 ? std::ldexp((double)m, -24) : e == 31 ? (m ? NAN : INFINITY) : std::ldexp((double)(m | 0x400), e - 25);
    return (float)((h & 0x8000) ? -v : v);
}
